"""The member registry: import, export, history library (党员历史库)."""
import io

from flask import request, send_file
from flask.views import MethodView
from flask_smorest import Blueprint

from ..auth import current_user
from ..schemas import MemberOut, MemberPatchIn
from ..schemas.registry import DeleteQuery, ExportQuery, ImportIn, ImportOut, PeriodOut
from ..services import member_import, people, registry

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
blp = Blueprint("registry", __name__, url_prefix="/api", description="The member registry: import, export, history library (党员历史库)")


@blp.route("/members/import")
class Import(MethodView):
    # One multipart schema documents the form fields and the file together (OpenAPI has no formData in 3.x).
    @blp.arguments(ImportIn, location="form", content_type="multipart/form-data")
    @blp.response(200, ImportOut)
    @blp.alt_response(422, description="invalid_import (the file as a whole), weak_password, invalid_org")
    def post(self, form):
        """Import a branch's members from CSV or xlsx: good rows are created with accounts, bad rows reported."""
        return member_import.import_members(current_user(), form["org_id"], request.files.get("file"),
                                            form["initial_password"])


@blp.route("/members/import-template.xlsx")
class Template(MethodView):
    @blp.response(200, content_type=XLSX)
    def get(self):
        """The import template: headers, an example row and a sheet explaining each column."""
        return send_file(io.BytesIO(registry.import_template()), mimetype=XLSX, as_attachment=True,
                         download_name="member-import-template.xlsx")


@blp.route("/members/export.xlsx")
class Export(MethodView):
    @blp.arguments(ExportQuery, location="query")
    @blp.response(200, content_type=XLSX)
    def get(self, query):
        """The members of an org and its subtree (deleted=true: its history library) as xlsx."""
        data = registry.export_members(current_user(), query["org_id"], query["deleted"])
        return send_file(io.BytesIO(data), mimetype=XLSX, as_attachment=True, download_name="members.xlsx")


@blp.route("/members/<int:member_id>")
class MemberEdit(MethodView):
    @blp.arguments(MemberPatchIn)
    @blp.response(200, MemberOut)
    def patch(self, data, member_id):
        """Edit a member (admins of their branch or above); 422 use_transfer for org_id, 409 member_deleted."""
        return people.update_member(current_user(), member_id, data)

    @blp.arguments(DeleteQuery, location="query")
    @blp.response(204)
    def delete(self, query, member_id):
        """Move a member into the history library (党员历史库); 409 transfer_pending, already_deleted."""
        registry.delete_member(current_user(), member_id, query["reason"])


@blp.route("/members/<int:member_id>/restore")
class Restore(MethodView):
    @blp.response(200, MemberOut)
    def post(self, member_id):
        """Bring a member back from the history library; 409 not_deleted."""
        return registry.restore_member(current_user(), member_id)


@blp.route("/members/<int:member_id>/purge")
class Purge(MethodView):
    @blp.response(204)
    def post(self, member_id):
        """Platform admins only: erase a deleted member's personal data and account; 409 not_deleted."""
        registry.purge_member(current_user(), member_id)


@blp.route("/members/<int:member_id>/history")
class History(MethodView):
    @blp.response(200, PeriodOut(many=True))
    def get(self, member_id):
        """The organisations the member belonged to, oldest first."""
        return registry.member_history(current_user(), member_id)
