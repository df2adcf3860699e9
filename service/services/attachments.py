"""Meeting attachments (会议附件): photos, video-meeting screenshots, PDFs and Office documents."""
import hashlib
import os
import re
import tempfile
import unicodedata
import uuid
from pathlib import Path
from typing import Callable, NamedTuple

from flask import current_app
from sqlalchemy import event, select

from ..database import transactional
from ..errors import ApiError
from ..extensions import db
from ..models import Attachment, Org
from ..actions.attachment_data import require_for_meeting  # noqa: F401  (part of this module's interface)
from . import access, meetings

MAX_NAME_CHARS = 120  # the column holds 255; long names only hurt lists and Content-Disposition headers
PNG, ZIP, OLE = b"\x89PNG\r\n\x1a\n", b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
OOXML = "application/vnd.openxmlformats-officedocument."


class FileType(NamedTuple):
    content_type: str
    matches: Callable[[bytes], bool]


def _starts(*magic: bytes) -> Callable[[bytes], bool]:
    return lambda data: data.startswith(magic)


def _is_webp(data: bytes) -> bool:
    return data[:4] == b"RIFF" and data[8:12] == b"WEBP"


# Content is trusted only when its leading bytes match the extension, so a renamed .exe or .html never passes.
FILE_TYPES = {
    "png": FileType("image/png", _starts(PNG)),
    "jpg": FileType("image/jpeg", _starts(b"\xff\xd8\xff")),
    "jpeg": FileType("image/jpeg", _starts(b"\xff\xd8\xff")),
    "gif": FileType("image/gif", _starts(b"GIF87a", b"GIF89a")),
    "webp": FileType("image/webp", _is_webp),
    "pdf": FileType("application/pdf", _starts(b"%PDF-")),
    "doc": FileType("application/msword", _starts(OLE)),
    "xls": FileType("application/vnd.ms-excel", _starts(OLE)),
    "ppt": FileType("application/vnd.ms-powerpoint", _starts(OLE)),
    "docx": FileType(OOXML + "wordprocessingml.document", _starts(ZIP)),
    "xlsx": FileType(OOXML + "spreadsheetml.sheet", _starts(ZIP)),
    "pptx": FileType(OOXML + "presentationml.presentation", _starts(ZIP)),
}


@transactional
def upload(user, meeting_id: int, file) -> Attachment:
    """Store a file for a meeting (its org's administrators only), refusing empty, oversized or disguised files."""
    meeting = meetings.get_visible(user, meeting_id)
    access.require_admin(user, db.session.get(Org, meeting.org_id))
    data = _read_bounded(file)
    filename = display_name(file.filename)
    content_type = _detect(filename, data)
    key = f"{meeting.id}/{uuid.uuid4().hex}"  # never the user's name: it reaches no path on disk
    _remove_on_rollback(_write(key, data))
    row = Attachment(meeting_id=meeting.id, filename=filename, content_type=content_type, size=len(data),
                     sha256=hashlib.sha256(data).hexdigest(), storage_key=key, uploaded_by=user.id)
    db.session.add(row)
    db.session.flush()
    return row


def _read_bounded(file) -> bytes:
    """The upload's bytes, reading one past the limit at most (Content-Length may lie or be absent)."""
    if file is None or not file.filename:
        raise ApiError("file_required", 422, "Send the file as multipart field 'file'.")
    limit = current_app.config["ATTACHMENT_MAX_BYTES"]
    data = file.stream.read(limit + 1)
    if not data:
        raise ApiError("file_required", 422, "The uploaded file is empty.")
    if len(data) > limit:
        raise ApiError("attachment_too_large", 413, f"Attachments may be at most {limit} bytes.", max_bytes=limit)
    return data


def display_name(raw: str | None) -> str:
    """The client's file name made safe to show: no directories, no control characters, a capped length."""
    name = re.split(r"[\\/]", unicodedata.normalize("NFC", raw or ""))[-1]
    # Category C covers control characters and invisible format ones such as right-to-left overrides.
    name = "".join(ch for ch in name if not unicodedata.category(ch).startswith("C")).strip().lstrip(".")
    if len(name) > MAX_NAME_CHARS:  # shorten the stem, keeping the extension
        _, dot, ext = name.rpartition(".")
        keep = dot + ext if dot and len(ext) <= 10 else ""
        name = name[:MAX_NAME_CHARS - len(keep)].rstrip() + keep
    return name or "attachment"


def allowed_types() -> list[str]:
    """Extensions accepted: those configured that we also know how to recognise."""
    configured = (ext.lower() for ext in current_app.config["ATTACHMENT_TYPES"])
    return [ext for ext in configured if ext in FILE_TYPES]


def _detect(filename: str, data: bytes) -> str:
    """The content type, from an allowed extension whose signature the bytes carry; else 415."""
    ext = filename.rpartition(".")[2].lower() if "." in filename else ""
    allowed = allowed_types()
    kind = FILE_TYPES[ext] if ext in allowed else None
    if kind is None or not kind.matches(data):
        raise ApiError("unsupported_attachment_type", 415, "Only these file types may be attached, with content "
                       f"matching the extension: {', '.join(allowed)}.", allowed=allowed)
    return kind.content_type


def _root() -> Path:
    return Path(current_app.config["ATTACHMENT_DIR"]).resolve()


def _write(key: str, data: bytes) -> Path:
    """Write via a temporary file in the same directory, so readers never see a partial file."""
    path = _root() / key
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def _remove_on_rollback(path: Path) -> None:
    """Delete the file again if the transaction that records it rolls back, even an outer one."""
    session = db.session()
    pending = session.info.setdefault("attachment_files", [])
    if not event.contains(session, "after_rollback", _discard_pending):
        event.listen(session, "after_rollback", _discard_pending)
        event.listen(session, "after_commit", _keep_pending)
    pending.append(path)


def _discard_pending(session) -> None:
    for path in session.info.pop("attachment_files", []):
        path.unlink(missing_ok=True)


def _keep_pending(session) -> None:
    session.info.pop("attachment_files", None)


def list_for_meeting(user, meeting_id: int) -> list[Attachment]:
    """A meeting's attachments, oldest first, for anyone who may see the meeting."""
    meeting = meetings.get_visible(user, meeting_id)
    query = select(Attachment).where(Attachment.meeting_id == meeting.id).order_by(Attachment.id)
    return list(db.session.scalars(query))


def open_for_download(user, attachment_id: int) -> tuple[Attachment, str]:
    """The attachment and its absolute path; 404 alike whether it is missing or its meeting is hidden."""
    row = db.session.get(Attachment, attachment_id)
    if row is None or not _may_see(user, row.meeting_id):
        raise ApiError("attachment_not_found", 404, f"Attachment {attachment_id} does not exist.")
    return row, str(_root() / row.storage_key)


def _may_see(user, meeting_id: int) -> bool:
    try:
        meetings.get_visible(user, meeting_id)
    except ApiError as error:
        if error.status != 404:
            raise
        return False
    return True
