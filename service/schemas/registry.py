"""The member registry at the boundary: import, history library, history."""
from flask_smorest.fields import Upload
from marshmallow import Schema, fields, validate

from .times import ChinaDateTime


class ImportIn(Schema):
    """The multipart body. The form fields are loaded here; the file itself is read from request.files."""

    org_id = fields.Integer(required=True, metadata={"description": "the branch (党支部) the rows go to"})
    initial_password = fields.String(load_default=None, metadata={
        "description": "one initial password for every new account (policy-checked); absent: a random one each"})
    file = Upload(load_default=None, metadata={"description": "CSV (UTF-8) or xlsx laid out like the template"})


class ImportErrorOut(Schema):
    row = fields.Integer(metadata={"description": "the row number a spreadsheet shows (the header is row 1)"})
    field = fields.String()
    code = fields.String()
    message = fields.String()


class ImportAccountOut(Schema):
    row = fields.Integer()
    member_id = fields.Integer()
    username = fields.String()
    initial_password = fields.String(metadata={"description": "only when generated; shown this once"})


class ImportOut(Schema):
    created = fields.Integer()
    errors = fields.List(fields.Nested(ImportErrorOut))
    accounts = fields.List(fields.Nested(ImportAccountOut))


class DeleteQuery(Schema):
    reason = fields.String(load_default=None, validate=validate.Length(max=200))


class ExportQuery(Schema):
    org_id = fields.Integer(required=True)
    deleted = fields.Boolean(load_default=False, metadata={"description": "true: the history library"})


class PeriodOut(Schema):
    org_id = fields.Integer()
    org_name = fields.String(allow_none=True)
    started_at = ChinaDateTime()
    ended_at = ChinaDateTime(allow_none=True)
    start_reason = fields.String()
    end_reason = fields.String(allow_none=True)
    transfer_id = fields.Integer(allow_none=True)
