"""Editing minutes after the meeting is completed: admins only, every edit kept (修改留痕)."""
from sqlalchemy import select

from ..actions import minutes_data
from ..database import lock_row, transactional, utcnow
from ..errors import ApiError
from ..extensions import db
from ..models import Meeting, MinutesRevision, ProcessInstance
from . import access, runtime
from .meetings import get_visible


@transactional
def edit(user, meeting_id: int, changes: dict, reason: str) -> Meeting:
    """Change completed minutes; the old values go to a revision and the edit to the timeline."""
    meeting = get_visible(user, meeting_id)
    access.require_admin(user, access.get_org(meeting.org_id))
    lock_row(ProcessInstance, meeting.instance_id)  # one writer per meeting, as for task completions
    db.session.refresh(meeting)
    minutes = minutes_data.minutes_of(meeting)
    if meeting.status != "completed" or minutes is None:
        raise ApiError("minutes_not_editable", 409, "Minutes are edited here only after the meeting is "
                       "completed; before that, revise them through the meeting's task.")
    before = minutes_data.snapshot(minutes)
    minutes_data.apply(meeting, minutes, changes)
    after = minutes_data.snapshot(minutes)
    changed = [name for name in minutes_data.EDITABLE if before[name] != after[name]]
    if not changed:
        raise ApiError("no_changes", 422, "Nothing in the minutes would change.")
    minutes.updated_at, minutes.updated_by = utcnow(), user.id
    db.session.add(MinutesRevision(meeting_id=meeting.id, revised_by=user.id, revised_at=utcnow(), reason=reason,
                                   changed=changed, before={k: before[k] for k in changed},
                                   after={k: after[k] for k in changed}))
    runtime.record_event(db.session.get(ProcessInstance, meeting.instance_id), None, "edited", user,
                         task_name="修改会议记录", comment=f"{reason}（修改：{'、'.join(changed)}）", data=after)
    return meeting


def revisions(user, meeting_id: int) -> list[MinutesRevision]:
    """Every edit of the meeting's minutes after completion, oldest first."""
    meeting = get_visible(user, meeting_id)
    return list(db.session.scalars(select(MinutesRevision).where(MinutesRevision.meeting_id == meeting.id)
                                   .order_by(MinutesRevision.id)))
