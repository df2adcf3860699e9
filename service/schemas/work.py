"""Schemas for process definitions, tasks and meetings."""
from marshmallow import Schema, fields, validate

from ..actions import form_fields
from ..actions.meeting import TopicsField, VoteSchema, not_blank, one_line
from . import ChinaDateTime


class DefinitionOut(Schema):
    key = fields.String()
    name = fields.String()
    version = fields.Integer()
    category = fields.String()
    enabled = fields.Boolean()
    sha256 = fields.String()
    deployed_at = ChinaDateTime()


class VersionQuery(Schema):
    version = fields.Integer(load_default=None)


class SubjectOut(Schema):
    kind = fields.String()
    id = fields.Integer()


class TaskOut(Schema):
    id = fields.Integer()
    name = fields.String()
    action = fields.String()
    role = fields.String()
    org_id = fields.Integer(allow_none=True)
    process_key = fields.String()
    subject = fields.Function(lambda t: {"kind": t.subject_kind, "id": t.subject_id})
    state = fields.String()
    created_at = ChinaDateTime()
    due_at = ChinaDateTime(allow_none=True)
    overdue = fields.Function(lambda t: _overdue(t))
    assignee_id = fields.Integer(allow_none=True)
    completed_at = ChinaDateTime(allow_none=True)
    completed_by = fields.Integer(allow_none=True)


def _overdue(task) -> bool:
    from ..database import utcnow
    return bool(task.state == "open" and task.due_at and task.due_at < utcnow())


class FormFieldOut(Schema):
    name = fields.String()
    type = fields.String()
    required = fields.Boolean()


class TaskDetailOut(TaskOut):
    form = fields.Function(lambda t: form_fields(t.action))


class TaskQuery(Schema):
    state = fields.String(load_default="open", validate=validate.OneOf(["open", "completed"]))
    process_key = fields.String(load_default=None)
    org_id = fields.Integer(load_default=None)
    overdue = fields.Boolean(load_default=None)
    limit = fields.Integer(load_default=200, validate=validate.Range(min=1, max=1000))


class CompletionOut(Schema):
    task = fields.Nested(TaskOut)
    next_tasks = fields.List(fields.Nested(TaskOut))


class CommentIn(Schema):
    text = fields.String(required=True, validate=[not_blank, validate.Length(max=5000)])


class CommentOut(Schema):
    id = fields.Integer()
    at = ChinaDateTime()
    actor_id = fields.Integer()
    comment = fields.String()


class MeetingIn(Schema):
    process_key = fields.String(required=True)
    org_id = fields.Integer(required=True)
    title = fields.String(required=True, validate=[not_blank, one_line, validate.Length(max=200)])
    scheduled_at = ChinaDateTime(required=True)
    location = fields.String(allow_none=True, load_default=None, validate=[one_line, validate.Length(max=200)])
    online = fields.Boolean(load_default=False)
    invitee_ids = fields.List(fields.Integer(), load_default=None)


class TimelineOut(Schema):
    at = ChinaDateTime()
    actor_id = fields.Integer(allow_none=True)
    actor_name = fields.String(allow_none=True)
    kind = fields.String()
    task_name = fields.String(allow_none=True)
    action = fields.String(allow_none=True)
    comment = fields.String(allow_none=True)


class InviteeOut(Schema):
    member_id = fields.Integer()
    name = fields.String(allow_none=True)
    notice_read_at = ChinaDateTime(allow_none=True)
    voting = fields.Boolean()
    feedback = fields.Boolean(allow_none=True)
    feedback_reason = fields.String(allow_none=True)
    checked_in_at = ChinaDateTime(allow_none=True)
    check_in_method = fields.String(allow_none=True)
    evidence_ids = fields.List(fields.Integer())


class MinutesOut(Schema):
    host = fields.String()
    recorder = fields.String()
    topics = fields.List(fields.String())
    content = fields.String()
    decisions = fields.String(allow_none=True)
    votes = fields.List(fields.Dict())
    summary = fields.String(allow_none=True)
    attachment_ids = fields.List(fields.Integer())
    attendees = fields.List(fields.Dict())
    absentees = fields.List(fields.Dict())
    updated_at = ChinaDateTime()
    updated_by = fields.Integer(allow_none=True)


class MinutesEditIn(Schema):
    """Only the fields given change; a reason is required and kept."""

    reason = fields.String(required=True, validate=[not_blank, validate.Length(max=2000)])
    host = fields.String(validate=not_blank)
    recorder = fields.String(validate=not_blank)
    topics = TopicsField()
    content = fields.String(validate=not_blank)
    decisions = fields.String(allow_none=True)
    votes = fields.List(fields.Nested(VoteSchema))
    summary = fields.String(allow_none=True)
    attachment_ids = fields.List(fields.Integer())


class RevisionOut(Schema):
    id = fields.Integer()
    revised_at = ChinaDateTime()
    revised_by = fields.Integer(allow_none=True)
    reason = fields.String()
    changed = fields.List(fields.String())
    before = fields.Dict()
    after = fields.Dict()


class MeetingOut(Schema):
    id = fields.Integer()
    process_key = fields.String()
    process_version = fields.Integer()
    org_id = fields.Integer()
    title = fields.String()
    scheduled_at = ChinaDateTime()
    location = fields.String(allow_none=True)
    online = fields.Boolean()
    status = fields.String()
    feedback_open = fields.Boolean()
    check_in_open = fields.Boolean()
    cancel_reason = fields.String(allow_none=True)
    created_at = ChinaDateTime()
    completed_at = ChinaDateTime(allow_none=True)


class MeetingDetailOut(MeetingOut):
    attendance = fields.Dict()
    open_tasks = fields.List(fields.Nested(TaskOut))
    timeline = fields.List(fields.Nested(TimelineOut))
    minutes = fields.Nested(MinutesOut, allow_none=True)
    invitees = fields.List(fields.Nested(InviteeOut))


MEETING_STATUSES = ("created", "notified", "quorum_failed", "in_progress", "minutes_recorded", "appraising",
                    "under_review", "completed", "cancelled")


class MeetingFilter(Schema):
    org_id = fields.Integer(load_default=None, metadata={"description": "the org and its subtree"})
    process_key = fields.String(load_default=None)
    status = fields.String(load_default=None, validate=validate.OneOf(MEETING_STATUSES))
    date_from = fields.Date(load_default=None, data_key="from",
                            metadata={"description": "scheduled on or after this China date"})
    date_to = fields.Date(load_default=None, data_key="to",
                          metadata={"description": "scheduled on or before this China date"})
    overdue = fields.Boolean(load_default=None, metadata={"description": "has an open task past its due date"})


class MeetingQuery(MeetingFilter):
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))


class FeedbackIn(Schema):
    attend = fields.Boolean(required=True)
    reason = fields.String(allow_none=True, load_default=None)


class CheckInIn(Schema):
    code = fields.String(required=True)


class ProxyCheckInIn(Schema):
    member_id = fields.Integer(required=True)


class VideoAttendanceIn(Schema):
    member_ids = fields.List(fields.Integer(), required=True, validate=validate.Length(min=1))
    evidence_ids = fields.List(fields.Integer(), load_default=list)


class CancelIn(Schema):
    reason = fields.String(required=True, validate=not_blank)


class CheckInCodeOut(Schema):
    code = fields.String()
    expires_at = ChinaDateTime()
    meeting_id = fields.Integer()
    check_in_open = fields.Boolean()
