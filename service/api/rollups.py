"""Org totals (三晋 formulas) and leaderboards."""
from flask.views import MethodView
from flask_smorest import Blueprint

from ..auth import current_user
from ..schemas.rollups import LeaderboardOut, LeaderboardQuery, OrgTotalOut, OrgTotalQuery
from ..services import leaderboards, rollups

blp = Blueprint("rollups", __name__, url_prefix="/api", description="Org totals (三晋 formulas) and leaderboards")


@blp.route("/scores/orgs/<int:org_id>")
class OrgTotal(MethodView):
    @blp.arguments(OrgTotalQuery, location="query")
    @blp.response(200, OrgTotalOut)
    def get(self, query, org_id):
        """An org's own points, average and total for a period by the 三晋 formulas (admins over the org).

        A scope of more than 2,000 orgs is answered from the nightly roll-up when it holds the period (today's or
        yesterday's month, quarter or year: `source: nightly`, `computed_at` of that run); smaller scopes, other
        periods and `fresh=true` are computed now (`source: live`). Points follow the tree as it is now: a transferred
        member's points of the whole period count in their new branch, a moved org's own points roll up into its
        new parent, and a branch merged into another is left out with its own meeting points (its members and
        their points count in the surviving branch).
        """
        return rollups.org_total(current_user(), org_id, query["period"], query["fresh"])


@blp.route("/leaderboards")
class Leaderboards(MethodView):
    @blp.arguments(LeaderboardQuery, location="query")
    @blp.response(200, LeaderboardOut)
    def get(self, query):
        """Members by learning points or branches by total, as computed nightly (or on first request).

        Admins over the org; a member may read their own branch's member board. Points are a reference only.
        """
        return leaderboards.get_board(current_user(), query["org_id"], query["kind"], query["period"])
