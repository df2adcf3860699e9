"""Member transfers (党员组织关系转接): in the system, out of it (介绍信), into it (registration)."""
from flask.views import MethodView
from flask_smorest import Blueprint

from ..auth import current_user
from ..schemas.transfers import CancelTransferIn, TransferIn, TransferOut, TransferQuery, TransferSummaryOut
from ..services import transfers

blp = Blueprint("transfers", __name__, url_prefix="/api/transfers",
                description="Member transfers (党员组织关系转接)")


@blp.route("")
class Transfers(MethodView):
    @blp.arguments(TransferIn)
    @blp.response(201, TransferOut)
    def post(self, data):
        """Start a transfer; the approval chain comes from the org tree. 409 transfer_pending while one is open."""
        return transfers.transfer_view(transfers.create_transfer(current_user(), data))

    @blp.arguments(TransferQuery, location="query")
    @blp.response(200, TransferSummaryOut(many=True))
    def get(self, query):
        """Transfers out of or into an org's subtree, newest first."""
        return transfers.list_transfers(current_user(), query)


@blp.route("/<int:transfer_id>")
class TransferById(MethodView):
    @blp.response(200, TransferOut)
    def get(self, transfer_id):
        """One transfer with its chain, open tasks and timeline."""
        return transfers.transfer_view(transfers.get_visible(current_user(), transfer_id))


@blp.route("/<int:transfer_id>/cancel")
class CancelTransfer(MethodView):
    @blp.arguments(CancelTransferIn)
    @blp.response(200, TransferOut)
    def post(self, data, transfer_id):
        """The starting side withdraws a pending transfer."""
        return transfers.transfer_view(transfers.cancel_transfer(current_user(), transfer_id, data["reason"]))
