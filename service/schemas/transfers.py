"""Member and organisation transfers at the boundary."""
from marshmallow import Schema, fields, validate

from ..actions.meeting import not_blank, one_line
from .times import ChinaDateTime
from .work import TaskOut, TimelineOut

PHONE = validate.Regexp(r"^[0-9+\-]{5,20}$")


class NewMemberIn(Schema):
    """The member a branch registers when they come into the system."""

    name = fields.String(required=True, validate=[not_blank, one_line, validate.Length(max=100)])
    phone = fields.String(allow_none=True, load_default=None, validate=PHONE)
    category = fields.String(required=True, validate=validate.OneOf(["full", "probationary"]))
    joined_at = fields.Date(required=True)
    birth_date = fields.Date(allow_none=True, load_default=None)
    gender = fields.String(allow_none=True, load_default=None, validate=validate.OneOf(["male", "female"]))


class TransferIn(Schema):
    kind = fields.String(load_default="in_system", validate=validate.OneOf(["in_system", "out_of_system",
                                                                              "into_system"]))
    member_id = fields.Integer(load_default=None)
    to_org_id = fields.Integer(load_default=None)
    destination = fields.String(load_default=None, validate=[one_line, validate.Length(max=200)])
    origin = fields.String(load_default=None, validate=[one_line, validate.Length(max=200)])
    member = fields.Nested(NewMemberIn, load_default=None)
    reason = fields.String(required=True, validate=[not_blank, validate.Length(max=2000)])


class ChainStepOut(Schema):
    org_id = fields.Integer()
    org_name = fields.String(allow_none=True)
    state = fields.String()


class _ChainedOut(Schema):
    """What every chain-approved request shows."""

    id = fields.Integer()
    kind = fields.String()
    status = fields.String()
    reason = fields.String()
    chain = fields.List(fields.Nested(ChainStepOut))
    outcome_comment = fields.String(allow_none=True)
    requested_by = fields.Integer(allow_none=True)
    created_at = ChinaDateTime()
    completed_at = ChinaDateTime(allow_none=True)
    open_tasks = fields.List(fields.Nested(TaskOut))
    timeline = fields.List(fields.Nested(TimelineOut))


class TransferOut(_ChainedOut):
    member_id = fields.Integer(allow_none=True)
    member_name = fields.String(allow_none=True)
    from_org_id = fields.Integer(allow_none=True)
    to_org_id = fields.Integer(allow_none=True)
    destination = fields.String(allow_none=True)
    origin = fields.String(allow_none=True)
    member_data = fields.Dict(allow_none=True)
    letter_no = fields.String(allow_none=True)
    letter_issued_at = ChinaDateTime(allow_none=True)
    letter_expires_at = ChinaDateTime(allow_none=True)
    receipt_at = ChinaDateTime(allow_none=True)
    receipt_note = fields.String(allow_none=True)


class TransferSummaryOut(Schema):
    id = fields.Integer()
    kind = fields.String()
    status = fields.String()
    member_id = fields.Integer(allow_none=True)
    from_org_id = fields.Integer(allow_none=True)
    to_org_id = fields.Integer(allow_none=True)
    reason = fields.String()
    created_at = ChinaDateTime()
    completed_at = ChinaDateTime(allow_none=True)


class TransferQuery(Schema):
    org_id = fields.Integer(required=True)
    status = fields.String(load_default=None, validate=validate.OneOf(["pending", "completed", "returned",
                                                                        "cancelled"]))
    kind = fields.String(load_default=None, validate=validate.OneOf(["in_system", "out_of_system", "into_system"]))
    member_id = fields.Integer(load_default=None)
    limit = fields.Integer(load_default=200, validate=validate.Range(min=1, max=1000))


class CancelTransferIn(Schema):
    reason = fields.String(required=True, validate=[not_blank, validate.Length(max=2000)])


class OrgTransferIn(Schema):
    kind = fields.String(load_default="move", validate=validate.OneOf(["move", "merge"]))
    org_id = fields.Integer(required=True)
    new_parent_id = fields.Integer(load_default=None)
    into_org_id = fields.Integer(load_default=None)
    approved_by = fields.String(load_default="parents", validate=validate.OneOf(["parents", "common_ancestor"]))
    reason = fields.String(required=True, validate=[not_blank, validate.Length(max=2000)])


class OrgTransferOut(_ChainedOut):
    org_id = fields.Integer()
    from_parent_id = fields.Integer(allow_none=True)
    new_parent_id = fields.Integer(allow_none=True)
    into_org_id = fields.Integer(allow_none=True)
