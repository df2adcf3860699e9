"""Per-organisation meeting types (会议类型管理): a 党委 or 党总支 chooses which types its branches may start."""
from flask.views import MethodView
from flask_smorest import Blueprint

from ..auth import current_user
from ..schemas.definitions import MeetingTypeView, Switch
from ..services import process_types

blp = Blueprint("meeting_types", __name__, url_prefix="/api/orgs",
                description="Which meeting types the branches under an organisation may start")


@blp.route("/<int:org_id>/meeting-types")
class MeetingTypes(MethodView):
    @blp.response(200, MeetingTypeView(many=True))
    def get(self, org_id):
        """Every meeting type, whether it may be started under this org, and which org switched it off."""
        return process_types.meeting_types(current_user(), org_id)


@blp.route("/<int:org_id>/meeting-types/<process_key>")
class MeetingType(MethodView):
    @blp.arguments(Switch)
    @blp.response(200, MeetingTypeView)
    def put(self, body, org_id, process_key):
        """Switch a type off for this org's subtree, or back on (this org's own switch-off is removed)."""
        return process_types.set_meeting_type(current_user(), org_id, process_key, body["enabled"])
