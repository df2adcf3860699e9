"""Compliance supervision (督办达标)."""
import io

from flask import send_file
from flask.views import MethodView
from flask_smorest import Blueprint

from ..auth import current_user
from ..schemas.rollups import ComplianceExportQuery, ComplianceOut, ComplianceQuery, RequirementIn, RequirementView
from ..services import compliance, compliance_settings

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
blp = Blueprint("compliance", __name__, url_prefix="/api", description="Compliance supervision (督办达标)")


@blp.route("/compliance")
class Compliance(MethodView):
    @blp.arguments(ComplianceQuery, location="query")
    @blp.response(200, ComplianceOut)
    def get(self, query):
        """Green/red per branch (and group) of the subtree and required meeting, a page of units at a time.

        A quarter includes its months, a year its quarters and months.
        """
        return compliance.report(current_user(), query["org_id"], query["period"], query["offset"], query["limit"])


@blp.route("/compliance/export.xlsx")
class ComplianceExport(MethodView):
    @blp.arguments(ComplianceExportQuery, location="query")
    @blp.response(200, content_type=XLSX)
    @blp.alt_response(422, description="export_too_large (more than 100,000 rows), with rows and max_rows; "
                                       "invalid_period")
    def get(self, query):
        """Every row of the subtree as an xlsx workbook (admins over the org)."""
        data = compliance.export(current_user(), query["org_id"], query["period"])
        return send_file(io.BytesIO(data), mimetype=XLSX, as_attachment=True, download_name="compliance.xlsx")


@blp.route("/compliance/requirements")
class Requirements(MethodView):
    @blp.response(200, RequirementView(many=True))
    def get(self):
        """The requirements in force: packaged, changed by an admin, or added for an uploaded meeting type."""
        return compliance_settings.views()


@blp.route("/compliance/requirements/<process_key>")
class OneRequirement(MethodView):
    @blp.arguments(RequirementIn)
    @blp.response(200, RequirementView)
    def put(self, body, process_key):
        """Set a meeting type's requirement (platform admin): `required` meetings per period; enabled=false drops it."""
        return compliance_settings.put(current_user(), process_key, body)

    @blp.response(204)
    def delete(self, process_key):
        """Back to the packaged requirement (platform admin)."""
        compliance_settings.reset(current_user(), process_key)
