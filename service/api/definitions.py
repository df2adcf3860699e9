"""Process definitions (BPMN)."""
from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint

from ..auth import current_user
from ..errors import ApiError
from ..schemas.work import DefinitionOut, VersionQuery
from ..services import definitions

blp = Blueprint("definitions", __name__, url_prefix="/api/process-definitions",
                description="BPMN process definitions: meeting types and other procedures")


def _uploaded_xml() -> bytes:
    upload = request.files.get("file")
    if upload is not None:
        return upload.read()
    if request.mimetype in ("application/xml", "text/xml", "application/octet-stream", "application/bpmn+xml"):
        return request.get_data()
    raise ApiError("unsupported_media_type", 415, "Send BPMN XML as application/xml or as multipart field 'file'.")


@blp.route("")
class Definitions(MethodView):
    @blp.response(200, DefinitionOut(many=True))
    def get(self):
        """The latest version of every process."""
        return definitions.list_latest()

    @blp.response(201, DefinitionOut)
    @blp.alt_response(200, schema=DefinitionOut, description="Identical XML: the existing version")
    @blp.alt_response(422, description="invalid_bpmn, with errors [{element_id, message, line}]")
    def post(self):
        """Deploy BPMN (platform admin): a new version, or the existing one if the XML is unchanged."""
        definition, created = definitions.upload(current_user(), _uploaded_xml())
        return definition, 201 if created else 200


@blp.route("/<key>/xml")
class DefinitionXml(MethodView):
    @blp.arguments(VersionQuery, location="query")
    @blp.response(200, content_type="application/xml")
    def get(self, query, key):
        """The BPMN XML of a definition (latest version unless ?version=)."""
        return Response(definitions.get_xml(key, query["version"]), mimetype="application/xml")
