"""Schemas for 流动党员 (member flows) and 使用智能手机不便 exemption requests."""
from marshmallow import Schema, fields, validate

from ..actions.meeting import not_blank, one_line
from .times import ChinaDateTime
from .work import TaskOut, TimelineOut

DIRECTIONS = ("out", "in")
EXEMPTION_REASONS = ("age_60_plus", "health")
EXEMPTION_STATUSES = ("pending", "approved", "rejected", "cancelled")


class FlowIn(Schema):
    member_id = fields.Integer(required=True)
    direction = fields.String(required=True, validate=validate.OneOf(DIRECTIONS))
    destination = fields.String(required=True, validate=[not_blank, one_line, validate.Length(max=200)],
                                metadata={"description": "out: where the member goes; in: where they come from"})
    from_date = fields.Date(required=True)
    to_date = fields.Date(allow_none=True, load_default=None)
    contact = fields.String(required=True, validate=[not_blank, one_line, validate.Length(max=200)])
    org_id = fields.Integer(allow_none=True, load_default=None,
                            metadata={"description": "in: the hosting branch (required); out: the member's branch"})


class FlowOut(Schema):
    id = fields.Integer()
    member_id = fields.Integer()
    member_name = fields.String(allow_none=True, metadata={
        "description": "null unless the caller may see the member (themself, or an admin of their branch or above)"})
    org_id = fields.Integer()
    direction = fields.String()
    destination = fields.String()
    from_date = fields.Date()
    to_date = fields.Date(allow_none=True)
    contact = fields.String()
    active = fields.Boolean()
    created_by = fields.Integer(allow_none=True)
    created_at = ChinaDateTime()
    ended_at = ChinaDateTime(allow_none=True)
    last_reported_at = ChinaDateTime(allow_none=True)
    report_reminded_at = ChinaDateTime(allow_none=True)


class FlowQuery(Schema):
    org_id = fields.Integer(load_default=None, metadata={"description": "the registering org and its subtree"})
    direction = fields.String(load_default=None, validate=validate.OneOf(DIRECTIONS))
    active = fields.Boolean(load_default=None, metadata={"description": "not ended and not past to_date"})


class FlowReportIn(Schema):
    note = fields.String(required=True, validate=[not_blank, validate.Length(max=5000)])


class FlowReportOut(Schema):
    id = fields.Integer()
    flow_id = fields.Integer()
    reported_at = ChinaDateTime()
    note = fields.String()
    recorded_by = fields.Integer(allow_none=True)


class ExemptionIn(Schema):
    reason = fields.String(required=True, validate=validate.OneOf(EXEMPTION_REASONS))
    note = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=2000))


class ExemptionOut(Schema):
    id = fields.Integer()
    member_id = fields.Integer()
    reason = fields.String()
    note = fields.String(allow_none=True)
    status = fields.String()
    requested_by = fields.Integer(allow_none=True)
    created_at = ChinaDateTime()
    decided_at = ChinaDateTime(allow_none=True)
    decision_comment = fields.String(allow_none=True, metadata={
        "description": "the superior's comment; for a cancelled request, why it was cancelled"})


class ExemptionDetailOut(ExemptionOut):
    open_tasks = fields.List(fields.Nested(TaskOut))
    timeline = fields.List(fields.Nested(TimelineOut))


class ExemptionQuery(Schema):
    org_id = fields.Integer(load_default=None, metadata={"description": "members of the org and its subtree"})
    status = fields.String(load_default=None, validate=validate.OneOf(EXEMPTION_STATUSES))


class SmartphoneExemptIn(Schema):
    exempt = fields.Boolean(required=True)


class SmartphoneExemptOut(Schema):
    id = fields.Integer()
    smartphone_exempt = fields.Boolean()
    smartphone_exempt_approved_at = ChinaDateTime(allow_none=True)
