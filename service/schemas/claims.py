"""Schemas for 积分申报 (declared points)."""
from marshmallow import Schema, fields, validate

import rules

from ..actions.meeting import not_blank, one_line
from .times import ChinaDateTime
from .work import TaskOut, TimelineOut

CLAIM_STATUSES = ("pending", "approved", "rejected", "overturned", "cancelled")
MAX_POINTS = rules.Declared.max_points
MAX_EVIDENCE = 10


class ClaimIn(Schema):
    rule_id = fields.String(load_default=None, validate=validate.Length(min=1, max=60), metadata={
        "description": "the declared-points item (a rule of kind declared, GET /api/score-rules); "
                       "default declared.claim, the general item"})
    points = fields.Integer(load_default=None, strict=True, validate=validate.Range(min=1, max=MAX_POINTS), metadata={
        "description": "default: the item's base points; required for an item whose base points are 0"})
    reason = fields.String(required=True, validate=[not_blank, validate.Length(max=2000)])
    evidence = fields.List(
        fields.String(validate=[not_blank, one_line, validate.Length(max=500)]), required=True,
        validate=validate.Length(min=1, max=MAX_EVIDENCE),
        metadata={"description": "short references: what happened where, a URL, a certificate number"})


class ClaimOut(Schema):
    id = fields.Integer()
    member_id = fields.Integer()
    org_id = fields.Integer(metadata={"description": "the member's branch when applying; its admins decide"})
    rule_id = fields.String(metadata={"description": "the declared-points item claimed under"})
    rule_label = fields.String(allow_none=True, metadata={"description": "the item's name (积分规则)"})
    category = fields.String(allow_none=True, metadata={
        "description": "积分分类: organizational_life | education | pioneer (the award's, else the item's)"})
    points = fields.Integer(metadata={"description": "the points claimed (申报积分)"})
    reason = fields.String()
    evidence = fields.List(fields.String())
    status = fields.String(metadata={"description": "|".join(CLAIM_STATUSES)})
    created_by = fields.Integer(allow_none=True)
    created_at = ChinaDateTime()
    decided_at = ChinaDateTime(allow_none=True)
    decision_comment = fields.String(allow_none=True, metadata={
        "description": "the branch admin's comment; for a withdrawn claim, that it was withdrawn"})
    entry_id = fields.Integer(allow_none=True, metadata={"description": "the ledger entry of the approval"})
    awarded_points = fields.Integer(allow_none=True, metadata={
        "description": "points the approval recorded (申报后的积分): fewer than claimed when the item's cap left "
                       "less room, 0 when it was used up or the item switched off (see award_note)"})
    award_note = fields.String(allow_none=True)
    reversal_entry_id = fields.Integer(allow_none=True, metadata={"description": "the overturn's reversal entry"})
    net_points = fields.Integer(allow_none=True, metadata={"description": "award plus reversal (0 once overturned)"})
    overturned_by = fields.Integer(allow_none=True)
    overturned_at = ChinaDateTime(allow_none=True)
    overturn_reason = fields.String(allow_none=True)


class ClaimDetailOut(ClaimOut):
    open_tasks = fields.List(fields.Nested(TaskOut))
    timeline = fields.List(fields.Nested(TimelineOut))


class ClaimQuery(Schema):
    org_id = fields.Integer(load_default=None, metadata={"description": "claims decided in the org's subtree"})
    member_id = fields.Integer(load_default=None)
    status = fields.String(load_default=None, validate=validate.OneOf(CLAIM_STATUSES))


class OverturnIn(Schema):
    reason = fields.String(required=True, validate=[not_blank, validate.Length(max=2000)])
