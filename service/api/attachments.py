"""Meeting attachments: upload, list, download."""
from flask import current_app, send_file
from flask.views import MethodView
from flask_smorest import Blueprint
from flask_smorest.fields import Upload
from marshmallow import Schema, fields
from werkzeug.exceptions import RequestEntityTooLarge

from ..auth import current_user
from ..errors import problem
from ..schemas import ChinaDateTime
from ..services import attachments

blp = Blueprint("attachments", __name__, url_prefix="/api", description="Attachments (会议附件)")


class AttachmentUploadIn(Schema):
    # Not required here: a missing file is the service's file_required, like an empty one.
    file = Upload(load_default=None, metadata={"description": "A photo, screenshot, PDF or Office document"})


class AttachmentOut(Schema):
    id = fields.Integer()
    meeting_id = fields.Integer()
    filename = fields.String()
    content_type = fields.String()
    size = fields.Integer()
    sha256 = fields.String()
    uploaded_at = ChinaDateTime()
    url = fields.Function(lambda attachment: f"/api/attachments/{attachment.id}")


@blp.errorhandler(RequestEntityTooLarge)
def _body_too_large(_error):
    # A body over MAX_CONTENT_LENGTH is refused before the service sees it; answer with the same code it uses.
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    return problem(413, "attachment_too_large", f"The request body may be at most {limit} bytes.", max_bytes=limit)


@blp.route("/meetings/<int:meeting_id>/attachments")
class MeetingAttachments(MethodView):
    @blp.arguments(AttachmentUploadIn, location="files")
    @blp.response(201, AttachmentOut)
    @blp.alt_response(413, description="attachment_too_large")
    @blp.alt_response(415, description="unsupported_attachment_type, with the allowed extensions")
    def post(self, data, meeting_id):
        """Attach a file to a meeting (its org's administrators); the type is checked against the content."""
        return attachments.upload(current_user(), meeting_id, data["file"])

    @blp.response(200, AttachmentOut(many=True))
    def get(self, meeting_id):
        """The meeting's attachments, for anyone who may see the meeting."""
        return attachments.list_for_meeting(current_user(), meeting_id)


@blp.route("/attachments/<int:attachment_id>")
class AttachmentById(MethodView):
    @blp.response(200, content_type="application/octet-stream", description="The file, as a download")
    def get(self, attachment_id):
        """Download an attachment; 404 attachment_not_found also when its meeting is not visible to the caller."""
        row, path = attachments.open_for_download(current_user(), attachment_id)
        response = send_file(path, mimetype=row.content_type, as_attachment=True, download_name=row.filename)
        response.headers["X-Content-Type-Options"] = "nosniff"  # browsers must not reinterpret the bytes
        return response
