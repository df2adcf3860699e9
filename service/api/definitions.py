"""Process definitions (BPMN): deploy, validate, versions, diff, switches, instance migration."""
from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint

from ..auth import current_user
from ..errors import ApiError
from ..schemas.definitions import (DefinitionQuery, DefinitionView, DiffQuery, MigrationIn, MigrationOut, Switch,
                                   ValidationReport, VersionView)
from ..schemas.work import DefinitionOut, VersionQuery
from ..services import definitions, instance_migration

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
    @blp.arguments(DefinitionQuery, location="query")
    @blp.response(200, DefinitionView(many=True))
    def get(self, query):
        """The latest version of every process (?category=meeting for the meeting types)."""
        return definitions.list_latest(query["category"])

    @blp.response(201, DefinitionOut)
    @blp.alt_response(200, schema=DefinitionOut, description="Identical XML: the existing version")
    @blp.alt_response(422, description="invalid_bpmn, with errors [{element_id, message, line}]")
    def post(self):
        """Deploy BPMN (platform admin): a new version, or the existing one if the XML is unchanged."""
        definition, created = definitions.upload(current_user(), _uploaded_xml())
        return definition, 201 if created else 200


@blp.route("/validate")
class Validate(MethodView):
    @blp.response(200, ValidationReport)
    def post(self):
        """Check BPMN without deploying it (platform admin): every problem with element id and line."""
        return definitions.validate_report(current_user(), _uploaded_xml())


@blp.route("/vocabulary")
class Vocabulary(MethodView):
    def get(self):
        """Lanes, actions (camunda:formKey) with the variables each sets, start variables and properties."""
        return definitions.vocabulary()


@blp.route("/<key>")
class Definition(MethodView):
    @blp.response(200, DefinitionView)
    def get(self, key):
        """The latest version of one process."""
        return definitions.latest_view(key)

    @blp.arguments(Switch)
    @blp.response(200, DefinitionView)
    def patch(self, body, key):
        """Switch a whole type on or off (platform admin); running instances go on to their end."""
        return definitions.set_type_enabled(current_user(), key, body["enabled"])


@blp.route("/<key>/xml")
class DefinitionXml(MethodView):
    @blp.arguments(VersionQuery, location="query")
    @blp.response(200, content_type="application/xml")
    def get(self, query, key):
        """The BPMN XML of a definition (latest version unless ?version=)."""
        return Response(definitions.get_xml(key, query["version"]), mimetype="application/xml")


@blp.route("/<key>/versions")
class Versions(MethodView):
    @blp.response(200, VersionView(many=True))
    def get(self, key):
        """Every version, newest first, with the number of instances still running on each."""
        return definitions.versions(key)


@blp.route("/<key>/versions/<int:version>")
class OneVersion(MethodView):
    @blp.arguments(Switch)
    @blp.response(200, VersionView)
    def patch(self, body, key, version):
        """Switch one version on or off (platform admin): new instances use the newest enabled version."""
        return definitions.set_version_enabled(current_user(), key, version, body["enabled"])


@blp.route("/<key>/diff")
class Diff(MethodView):
    @blp.arguments(DiffQuery, location="query")
    def get(self, query, key):
        """Structural diff of two versions (?from=1&to=2): elements added, removed, changed field by field."""
        return definitions.diff(key, query["from_version"], query["to"])


@blp.route("/<key>/migrations")
class Migrations(MethodView):
    @blp.arguments(MigrationIn)
    @blp.response(200, MigrationOut)
    def post(self, body, key):
        """Move running instances to a newer version (platform admin); incompatible ones are refused with reasons."""
        return instance_migration.migrate(current_user(), key, body)
