"""Which attachments a meeting's records may reference (minutes, video-attendance evidence)."""
from sqlalchemy import select

from ..errors import ApiError
from ..extensions import db
from ..models import Attachment, Meeting


def require_for_meeting(meeting: Meeting, ids, kinds: str | None = None) -> list[Attachment]:
    """These attachments of the meeting, in the given order; 422 invalid_attachments for any foreign (or non-image)."""
    if kinds not in (None, "image"):
        raise ValueError(f"unknown attachment kinds {kinds!r}")
    wanted = list(dict.fromkeys(ids or []))
    if not wanted:
        return []
    found = {a.id: a for a in db.session.scalars(select(Attachment).where(
        Attachment.meeting_id == meeting.id, Attachment.id.in_(wanted)))}
    _refuse([i for i in wanted if i not in found], f"Not attachments of meeting {meeting.id}")
    if kinds == "image":
        _refuse([i for i in wanted if not found[i].content_type.startswith("image/")], "Not images")
    return [found[i] for i in wanted]


def _refuse(bad_ids: list, detail: str) -> None:
    if bad_ids:
        raise ApiError("invalid_attachments", 422, f"{detail}: {bad_ids}.", errors={"attachment_ids": bad_ids})
