"""流动党员 (members away from or hosted by a branch)."""
from flask.views import MethodView
from flask_smorest import Blueprint

from ..auth import current_user
from ..schemas.registry_extras import FlowIn, FlowOut, FlowQuery, FlowReportIn, FlowReportOut
from ..services import flows

blp = Blueprint("flows", __name__, url_prefix="/api", description="流动党员 (members away from or hosted by a branch)")


@blp.route("/flows")
class Flows(MethodView):
    @blp.arguments(FlowIn)
    @blp.response(201, FlowOut)
    def post(self, data):
        """Register a flow-out (the member's branch) or flow-in (the hosting branch).

        The caller's right over the registering branch is checked first: a flow-out for a member the caller does
        not administer is 404 member_not_found; a flow-in is 403 unless the caller administers the host. 422
        org_retired for a retired branch; 409 flow_exists (one active flow-out per member, one active flow-in per
        member and host). A flow-in notifies the member's own branch (flow_in_registered).
        """
        return flows.create_flow(current_user(), data)

    @blp.arguments(FlowQuery, location="query")
    @blp.response(200, FlowOut(many=True))
    def get(self, query):
        """Flows registered by the org and its subtree (admins only); member_name only for members you may see."""
        return flows.list_flows(current_user(), query)


@blp.route("/flows/<int:flow_id>")
class FlowById(MethodView):
    @blp.response(200, FlowOut)
    def get(self, flow_id):
        """One flow (its branches' admins, or the member)."""
        return flows.get_flow(current_user(), flow_id)


@blp.route("/flows/<int:flow_id>/reports")
class FlowReports(MethodView):
    @blp.arguments(FlowReportIn)
    @blp.response(201, FlowReportOut)
    def post(self, data, flow_id):
        """Record a report back (思想汇报) by the member or the registering branch's admin; 409 flow_ended."""
        return flows.add_report(current_user(), flow_id, data["note"])

    @blp.response(200, FlowReportOut(many=True))
    def get(self, flow_id):
        """The flow's reports, oldest first."""
        return flows.list_reports(current_user(), flow_id)


@blp.route("/flows/<int:flow_id>/end")
class EndFlow(MethodView):
    @blp.response(200, FlowOut)
    def post(self, flow_id):
        """End a flow (the registering branch's admin); 409 flow_ended the second time."""
        return flows.end_flow(current_user(), flow_id)
