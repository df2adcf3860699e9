"""Review actions: 报审/报备 (submit), 审核 (decide), 审阅 (acknowledge), 确认 (confirm)."""
from marshmallow import Schema, ValidationError, fields, validates_schema

from . import NoData, action


class DecideSchema(Schema):
    approved = fields.Boolean(required=True)
    comment = fields.String(load_default=None)

    @validates_schema
    def _reason_when_returning(self, data, **kwargs):
        if not data["approved"] and not (data.get("comment") or "").strip():
            raise ValidationError("A reason is required when returning.", "comment")


class AcknowledgeSchema(Schema):
    comment = fields.String(load_default=None)


@action("review.submit", NoData, subject_kinds=("meeting", "transfer", "org_transfer"))
def submit(ctx, data):
    """Submit to the superior for review (报审) or for the record (报备)."""
    return {}


@action("review.decide", DecideSchema, subject_kinds=("meeting", "transfer", "org_transfer", "exemption",
                                                       "score_claim"), sets=("approved", "review_comment"))
def decide(ctx, data):
    """The superior approves, or returns with a reason (审核)."""
    return {"approved": data["approved"], "review_comment": data.get("comment")}


@action("review.acknowledge", AcknowledgeSchema, subject_kinds=("meeting",), sets=("acknowledged",))
def acknowledge(ctx, data):
    """The superior has read it (审阅); there is no way to reject."""
    return {"acknowledged": True}


@action("review.confirm", NoData, subject_kinds=("meeting",), sets=("confirmed",))
def confirm(ctx, data):
    """The branch itself confirms the record (确认)."""
    return {"confirmed": True}
