"""Declared points (积分申报)."""
from flask.views import MethodView
from flask_smorest import Blueprint

from ..auth import current_user
from ..schemas.claims import ClaimDetailOut, ClaimIn, ClaimOut, ClaimQuery, OverturnIn
from ..services import claims  # registers runtime.SUBJECTS["score_claim"]

blp = Blueprint("claims", __name__, url_prefix="/api", description="Declared points (积分申报)")


@blp.route("/score-claims")
class ScoreClaims(MethodView):
    @blp.arguments(ClaimIn)
    @blp.response(201, ClaimDetailOut)
    def post(self, data):
        """A member declares points for themself; the branch admin decides. 403 without a member; 422 member_deleted."""
        return claims.create_claim(current_user(), data)

    @blp.arguments(ClaimQuery, location="query")
    @blp.response(200, ClaimOut(many=True))
    def get(self, query):
        """Claims the caller may see, newest first: an org's subtree for its admins, a member's own."""
        return claims.list_claims(current_user(), query)


@blp.route("/score-claims/<int:claim_id>")
class ScoreClaimById(MethodView):
    @blp.response(200, ClaimDetailOut)
    def get(self, claim_id):
        """A claim with its award, open task and timeline."""
        return claims.get_claim(current_user(), claim_id)


@blp.route("/score-claims/<int:claim_id>/cancel")
class CancelScoreClaim(MethodView):
    @blp.response(200, ClaimDetailOut)
    def post(self, claim_id):
        """The member withdraws a pending claim; 409 claim_not_pending."""
        return claims.cancel_claim(current_user(), claim_id)


@blp.route("/score-claims/<int:claim_id>/overturn")
class OverturnScoreClaim(MethodView):
    @blp.arguments(OverturnIn)
    @blp.response(200, ClaimDetailOut)
    def post(self, data, claim_id):
        """A platform admin overturns an approval with a reason (a reversal entry; the record stays).

        409 claim_not_approved, already_overturned.
        """
        return claims.overturn_claim(current_user(), claim_id, data["reason"])
