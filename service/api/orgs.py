"""Organisations."""
from flask.views import MethodView
from flask_smorest import Blueprint

from ..auth import current_user
from ..schemas import OrgIn, OrgOut
from ..services import access, people

blp = Blueprint("orgs", __name__, url_prefix="/api/orgs", description="The organisation tree")


def _out(org):
    superior = access.superior_of(org)
    return {"id": org.id, "name": org.name, "kind": org.kind, "parent_id": org.parent_id,
            "superior_id": superior.id if superior else None, "retired_at": org.retired_at,
            "merged_into_id": org.merged_into_id}


@blp.route("")
class Orgs(MethodView):
    @blp.arguments(OrgIn)
    @blp.response(201, OrgOut)
    def post(self, data):
        """Add an org (committee, general_branch, branch or group) under a parent."""
        return _out(people.create_org(current_user(), data))


@blp.route("/<int:org_id>")
class OrgById(MethodView):
    @blp.response(200, OrgOut)
    def get(self, org_id):
        """One org, with its reviewing superior."""
        return _out(access.get_org(org_id))


@blp.route("/<int:org_id>/children")
class Children(MethodView):
    @blp.response(200, OrgOut(many=True))
    def get(self, org_id):
        """Direct children of an org."""
        return [_out(o) for o in access.children(access.get_org(org_id))]
