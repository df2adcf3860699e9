"""Compliance supervision (督办达标)."""
import io

from flask import send_file
from flask.views import MethodView
from flask_smorest import Blueprint

from ..auth import current_user
from ..schemas.rollups import ComplianceOut, ComplianceQuery
from ..services import compliance

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
blp = Blueprint("compliance", __name__, url_prefix="/api", description="Compliance supervision (督办达标)")


@blp.route("/compliance")
class Compliance(MethodView):
    @blp.arguments(ComplianceQuery, location="query")
    @blp.response(200, ComplianceOut)
    def get(self, query):
        """Green/red per branch (and group) of the subtree and required meeting; a quarter includes its months."""
        return compliance.report(current_user(), query["org_id"], query["period"])


@blp.route("/compliance/export.xlsx")
class ComplianceExport(MethodView):
    @blp.arguments(ComplianceQuery, location="query")
    @blp.response(200, content_type=XLSX)
    def get(self, query):
        """The same rows as an xlsx workbook (admins over the org)."""
        data = compliance.export(current_user(), query["org_id"], query["period"])
        return send_file(io.BytesIO(data), mimetype=XLSX, as_attachment=True, download_name="compliance.xlsx")
