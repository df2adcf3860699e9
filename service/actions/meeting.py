"""Meeting actions: notices, feedback and sign-in windows, minutes, rescheduling."""
from marshmallow import Schema, ValidationError, fields, validates_schema

from ..database import utcnow
from ..schemas.times import ChinaDateTime
from . import meeting_data
from . import NoData, action


class TopicsField(fields.Field):
    """Topics as a list of strings; a single string is taken as one topic."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str) and value.strip():
            return [value.strip()]
        if isinstance(value, list) and value and all(isinstance(v, str) and v.strip() for v in value):
            return [v.strip() for v in value]
        raise ValidationError("Give one or more non-empty topics.")


class MinutesSchema(Schema):
    host = fields.String(required=True, validate=lambda s: bool(s.strip()))
    recorder = fields.String(required=True, validate=lambda s: bool(s.strip()))
    topics = TopicsField(required=True)
    content = fields.String(required=True, validate=lambda s: bool(s.strip()))
    decisions = fields.String(load_default=None)
    attachment_ids = fields.List(fields.Integer(), load_default=list)


class RescheduleSchema(Schema):
    scheduled_at = ChinaDateTime(load_default=None)
    cancel = fields.Boolean(load_default=False)
    reason = fields.String(load_default=None)

    @validates_schema
    def _one_choice(self, data, **kwargs):
        if data["cancel"]:
            if not (data.get("reason") or "").strip():
                raise ValidationError("A reason is required to cancel.", "reason")
        elif data.get("scheduled_at") is None:
            raise ValidationError("Give a new scheduled_at, or cancel=true with a reason.", "scheduled_at")
        elif data["scheduled_at"] <= utcnow():
            raise ValidationError("The new time must be in the future.", "scheduled_at")


class CancelSchema(Schema):
    reason = fields.String(required=True, validate=lambda s: bool(s.strip()))


@action("meeting.notify", NoData)
def notify(ctx, data):
    """Send the notice to every invitee; their feedback opens."""
    meeting_data.reset_feedback_window(ctx.subject)
    return {}


@action("meeting.close_feedback", NoData)
def close_feedback(ctx, data):
    """Close feedback (反馈); the ratios decide whether the meeting may be held."""
    return meeting_data.feedback_ratios(ctx.subject)


@action("meeting.close_check_in", NoData)
def close_check_in(ctx, data):
    """Close sign-in (签到)."""
    return meeting_data.presence_ratios(ctx.subject)


@action("meeting.record_minutes", MinutesSchema)
def record_minutes(ctx, data):
    """Record the minutes; attendees and absentees come from sign-in."""
    meeting_data.save_minutes(ctx.subject, ctx.user, data)
    return {}


@action("meeting.reschedule", RescheduleSchema)
def reschedule(ctx, data):
    """Quorum not reached: move the meeting to a new time (notice again) or cancel it."""
    if data["cancel"]:
        meeting_data.mark_cancelled(ctx.subject, data["reason"])
        return {"cancelled": True}
    ctx.subject.scheduled_at = data["scheduled_at"]
    return {"cancelled": False, "scheduled_at": data["scheduled_at"].isoformat()}


@action("meeting.cancel", CancelSchema)
def cancel(ctx, data):
    """Cancel the meeting with a reason."""
    meeting_data.mark_cancelled(ctx.subject, data["reason"])
    return {"cancelled": True}
