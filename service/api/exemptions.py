"""使用智能手机不便: requests approved by the superior."""
from flask.views import MethodView
from flask_smorest import Blueprint

from ..auth import current_user
from ..schemas.registry_extras import (ExemptionDetailOut, ExemptionIn, ExemptionOut, ExemptionQuery,
                                       SmartphoneExemptIn, SmartphoneExemptOut)
from ..services import exemptions  # registers runtime.SUBJECTS["exemption"]

blp = Blueprint("exemptions", __name__, url_prefix="/api", description="使用智能手机不便: requests approved by the superior")


@blp.route("/members/<int:member_id>/exemption-requests")
class MemberExemptionRequests(MethodView):
    @blp.arguments(ExemptionIn)
    @blp.response(201, ExemptionDetailOut)
    def post(self, data, member_id):
        """The branch asks its superior to approve the flag; 409 request_pending, already_approved; 422 not_eligible."""
        return exemptions.request_exemption(current_user(), member_id, data)


@blp.route("/exemption-requests")
class ExemptionRequests(MethodView):
    @blp.arguments(ExemptionQuery, location="query")
    @blp.response(200, ExemptionOut(many=True))
    def get(self, query):
        """Requests about members of the org and its subtree, newest first."""
        return exemptions.list_requests(current_user(), query)


@blp.route("/exemption-requests/<int:request_id>")
class ExemptionRequestById(MethodView):
    @blp.response(200, ExemptionDetailOut)
    def get(self, request_id):
        """A request with its open tasks and timeline."""
        return exemptions.get_request(current_user(), request_id)


@blp.route("/exemption-requests/<int:request_id>/cancel")
class CancelExemptionRequest(MethodView):
    @blp.response(200, ExemptionDetailOut)
    def post(self, request_id):
        """The branch withdraws a pending request; 409 request_not_pending."""
        return exemptions.cancel_request(current_user(), request_id)


@blp.route("/members/<int:member_id>/smartphone-exempt")
class SmartphoneExempt(MethodView):
    @blp.arguments(SmartphoneExemptIn)
    @blp.response(200, SmartphoneExemptOut)
    def put(self, data, member_id):
        """A platform admin sets (approved at once) or clears the flag; cancels any pending request.

        409 request_pending if a request was asked for while this ran (try again).
        """
        return exemptions.set_exempt(current_user(), member_id, data["exempt"])
