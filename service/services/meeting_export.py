"""The meeting ledger (会议台账) as an xlsx workbook: one row per meeting."""
import io

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from sqlalchemy import case, func, select

from rules.periods import CHINA

from ..extensions import db
from ..models import Attendance, Meeting, Org, ProcessDefinition

STATUS_NAMES = {"created": "待通知", "notified": "已通知", "quorum_failed": "未达到人数", "in_progress": "进行中",
                "minutes_recorded": "已记录", "appraising": "民主评议中", "under_review": "待审核",
                "completed": "已完成", "cancelled": "已取消"}
HEADERS = ("编号", "会议类型", "组织", "会议主题", "会议时间", "地点", "线上", "状态", "完成时间", "应到人数",
           "反馈参加", "实到人数", "有表决权应到", "有表决权实到", "到会率")


def workbook(meetings: list[Meeting]) -> bytes:
    """The ledger of the given meetings, times in China time."""
    book = Workbook()
    sheet = book.active
    sheet.title = "会议台账"
    sheet.append(HEADERS)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    counts, types, orgs = _counts(meetings), _type_names(), _org_names(meetings)
    for number, meeting in enumerate(meetings, start=2):
        sheet.append([_safe(v) for v in _row(meeting, counts.get(meeting.id, (0, 0, 0, 0, 0)), types, orgs)])
        # By number and width: sheet.max_row / max_column scan every cell, which made the export quadratic.
        for cell in next(sheet.iter_rows(min_row=number, max_row=number, max_col=len(HEADERS))):
            if cell.data_type == "f":  # people's text is never a formula in the superior's spreadsheet
                cell.data_type = "s"
    sheet.freeze_panes = "A2"
    for column, width in zip("ABCDEFGHIJKLMNO", (8, 20, 20, 30, 18, 16, 6, 10, 18, 9, 9, 9, 12, 12, 8)):
        sheet.column_dimensions[column].width = width
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _row(meeting: Meeting, counts: tuple, types: dict, orgs: dict) -> list:
    invited, feedback_yes, present, voting, voting_present = counts
    return [meeting.id, types.get(meeting.process_key, meeting.process_key), orgs.get(meeting.org_id),
            meeting.title, _china(meeting.scheduled_at), meeting.location, "是" if meeting.online else "否",
            STATUS_NAMES.get(meeting.status, meeting.status), _china(meeting.completed_at), invited, feedback_yes,
            present, voting, voting_present, f"{present / invited:.0%}" if invited else ""]


def _safe(value):
    """Text without the control characters xlsx cannot hold."""
    return ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value


def _china(moment):
    return moment.astimezone(CHINA).strftime("%Y-%m-%d %H:%M") if moment else None


def _counts(meetings: list[Meeting]) -> dict[int, tuple]:
    """Per meeting: invited, said yes, signed in, voting invited, voting signed in (one grouped query)."""
    ids = [m.id for m in meetings]
    present = Attendance.checked_in_at.is_not(None)
    one = lambda condition: func.sum(case((condition, 1), else_=0))
    rows = db.session.execute(select(
        Attendance.meeting_id, func.count(), one(Attendance.feedback.is_(True)), one(present),
        one(Attendance.voting.is_(True)), one(present & Attendance.voting.is_(True)))
        .where(Attendance.meeting_id.in_(ids)).group_by(Attendance.meeting_id)) if ids else []
    return {row[0]: tuple(int(v or 0) for v in row[1:]) for row in rows}


def _type_names() -> dict[str, str]:
    rows = db.session.execute(select(ProcessDefinition.key, ProcessDefinition.name).order_by(ProcessDefinition.version))
    return dict(rows.all())  # the latest version's name wins


def _org_names(meetings: list[Meeting]) -> dict[int, str]:
    ids = {m.org_id for m in meetings}
    return dict(db.session.execute(select(Org.id, Org.name).where(Org.id.in_(ids))).all()) if ids else {}
