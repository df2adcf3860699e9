"""Organisation moves and merges (组织迁移/合并)."""
from flask.views import MethodView
from flask_smorest import Blueprint

from ..auth import current_user
from ..schemas.transfers import CancelTransferIn, OrgTransferIn, OrgTransferOut
from ..services import org_transfers

blp = Blueprint("org_transfers", __name__, url_prefix="/api/org-transfers",
                description="Organisation moves and merges (组织迁移/合并)")


@blp.route("")
class OrgTransfers(MethodView):
    @blp.arguments(OrgTransferIn)
    @blp.response(201, OrgTransferOut)
    def post(self, data):
        """Ask to move an org under a new parent (kind move) or merge a branch into another (kind merge)."""
        return org_transfers.org_transfer_view(org_transfers.create_org_transfer(current_user(), data))


@blp.route("/<int:move_id>")
class OrgTransferById(MethodView):
    @blp.response(200, OrgTransferOut)
    def get(self, move_id):
        """One move or merge with its chain, open tasks and timeline."""
        return org_transfers.org_transfer_view(org_transfers.get_visible(current_user(), move_id))


@blp.route("/<int:move_id>/cancel")
class CancelOrgTransfer(MethodView):
    @blp.arguments(CancelTransferIn)
    @blp.response(200, OrgTransferOut)
    def post(self, data, move_id):
        """The requesting side withdraws a pending move or merge."""
        return org_transfers.org_transfer_view(org_transfers.cancel_org_transfer(current_user(), move_id,
                                                                                  data["reason"]))
