"""Meeting actions: notices, feedback and sign-in windows, minutes, rescheduling."""
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ..database import utcnow
from ..schemas.times import ChinaDateTime
from . import meeting_data, minutes_data
from . import NoData, action


def not_blank(value: str) -> None:
    """Refuse empty and whitespace-only text (marshmallow 4 validators must raise, not return False)."""
    if not value.strip():
        raise ValidationError("Must not be blank.")


def one_line(value: str) -> None:
    """Refuse control characters (line breaks included) in titles and places."""
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValidationError("Must not contain control characters or line breaks.")


class TopicsField(fields.Field):
    """Topics as a list of strings; a single string is taken as one topic."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str) and value.strip():
            return [value.strip()]
        if isinstance(value, list) and value and all(isinstance(v, str) and v.strip() for v in value):
            return [v.strip() for v in value]
        raise ValidationError("Give one or more non-empty topics.")


class VoteSchema(Schema):
    """One motion put to the vote (表决): counts of yes, no and abstain."""

    motion = fields.String(required=True, validate=not_blank)
    yes = fields.Integer(required=True, validate=validate.Range(min=0))
    no = fields.Integer(load_default=0, validate=validate.Range(min=0))
    abstain = fields.Integer(load_default=0, validate=validate.Range(min=0))


class MinutesSchema(Schema):
    host = fields.String(required=True, validate=not_blank)
    recorder = fields.String(required=True, validate=not_blank)
    topics = TopicsField(required=True)
    content = fields.String(required=True, validate=not_blank)
    decisions = fields.String(load_default=None)
    votes = fields.List(fields.Nested(VoteSchema), load_default=list)
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


class SummarySchema(Schema):
    summary = fields.String(required=True, validate=not_blank)


class CancelSchema(Schema):
    reason = fields.String(required=True, validate=not_blank)


@action("meeting.notify", NoData)
def notify(ctx, data):
    """Send the notice to every invitee; their feedback opens."""
    meeting_data.send_notice(ctx.subject)
    return {}


@action("meeting.close_feedback", NoData, sets=("feedback_ratio", "voting_feedback_ratio"))
def close_feedback(ctx, data):
    """Close feedback (反馈); the ratios decide whether the meeting may be held."""
    return meeting_data.feedback_ratios(ctx.subject)


@action("meeting.close_check_in", NoData, sets=("checked_in_ratio", "voting_present_ratio"))
def close_check_in(ctx, data):
    """Close sign-in (签到)."""
    return meeting_data.presence_ratios(ctx.subject)


@action("meeting.record_minutes", MinutesSchema, sets=("appraised",))
def record_minutes(ctx, data):
    """Record the minutes; attendees and absentees come from sign-in. Sets appraised (民主评议 already done)."""
    minutes_data.save_minutes(ctx.subject, ctx.user, data)
    return {"appraised": meeting_data.all_rated(ctx.subject)}


@action("meeting.summarize", SummarySchema)
def summarize(ctx, data):
    """党课: write the summary (学习总结) after the class."""
    minutes_data.save_summary(ctx.subject, ctx.user, data["summary"].strip())
    return {}


@action("meeting.reschedule", RescheduleSchema, sets=("cancelled", "scheduled_at"))
def reschedule(ctx, data):
    """Quorum not reached: move the meeting to a new time (notice again) or cancel it."""
    if data["cancel"]:
        meeting_data.mark_cancelled(ctx.subject, data["reason"])
        return {"cancelled": True}
    ctx.subject.scheduled_at = data["scheduled_at"]
    ctx.subject.notified_at = ctx.subject.reminder_sent_at = None  # the new time has not been announced yet
    return {"cancelled": False, "scheduled_at": data["scheduled_at"].isoformat()}


@action("meeting.cancel", CancelSchema, sets=("cancelled",))
def cancel(ctx, data):
    """Cancel the meeting with a reason."""
    meeting_data.mark_cancelled(ctx.subject, data["reason"])
    return {"cancelled": True}
