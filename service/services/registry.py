"""The history library (党员历史库): delete, restore, purge; a member's history; the registry as xlsx."""
import io

from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy import delete, or_, select, update

from ..database import CHINA, lock_row, transactional, utcnow
from ..extensions import db
from ..errors import ApiError
from ..models import ExemptionRequest, Member, MemberFlow, Notification, Org, Transfer, User
from . import access, departures, flows, exemptions, member_import, membership, people
from .meeting_export import _safe

PURGED_NAME = "（已清除）"
CATEGORY_NAMES = {"full": "正式党员", "probationary": "预备党员"}
ROLE_NAMES = {"secretary": "书记", "deputy_secretary": "副书记", "committee_member": "委员"}
GENDER_NAMES = {"male": "男", "female": "女"}
EXPORT_HEADERS = ("编号", "姓名", "手机号", "身份证号", "所在支部", "党小组", "人员类别", "入党日期", "出生日期", "性别",
                  "支委职务", "使用智能手机不便", "上级已审批")
LIBRARY_HEADERS = ("删除时间", "删除原因")


@transactional
def delete_member(user, member_id: int, reason: str | None) -> None:
    """Move a member into the history library; their account stops working."""
    member = people.get_administered_member(user, member_id)
    _require_may_disable(user, member)
    branch_id = member.org_id
    lock_row(Org, branch_id)  # branch, then member: the order transfers and merges take
    db.session.refresh(member)
    if member.org_id != branch_id:
        raise ApiError("member_moved", 409, "The member has just moved to another branch; try again.")
    if member.deleted_at is not None:
        raise ApiError("already_deleted", 409, "The member is already in the history library.")
    membership.require_no_pending_transfer(member.id)
    # The exemption request's instance is locked before the member row, the order task completion uses.
    departures.member_left(member, user, f"移入党员历史库：{reason or ''}".rstrip("："))
    member = _locked(member)
    member.deleted_at, member.deleted_reason = utcnow(), reason or None
    membership.close_period(member, "deleted")
    departures.release_claims(departures.account_of(member), everything=True)


def _require_may_disable(user, member: Member) -> None:
    """Deleting disables the member's account: only someone who could have granted all its roles may do that."""
    account_id = departures.account_of(member)
    account = db.session.get(User, account_id) if account_id else None
    for grant in [g for g in account.grants if g.role != "member"] if account else []:
        allowed = access.is_platform_admin(user) if grant.role == "platform_admin" else (
            grant.org_id is None or access.administers(user, access.get_org(grant.org_id)))
        if not allowed:
            raise ApiError("forbidden", 403, "The member's account holds rights beyond what you administer; "
                           "ask an administrator above you to delete this member.")


@transactional
def restore_member(user, member_id: int) -> Member:
    """Bring a member back from the history library into their branch."""
    member = _locked(people.get_administered_member(user, member_id))
    if member.deleted_at is None:
        raise ApiError("not_deleted", 409, "The member is not in the history library.")
    branch = db.session.get(Org, member.org_id)
    while branch.retired_at is not None and branch.merged_into_id is not None:
        branch = db.session.get(Org, branch.merged_into_id)  # the branch its members went to in the merge
    if branch.id != member.org_id:
        member.org_id, member.group_id, member.committee_role = branch.id, None, None
    member.deleted_at, member.deleted_reason = None, None
    membership.open_period(member, "restored")
    return member


@transactional
def purge_member(user, member_id: int) -> None:
    """A platform admin erases a deleted member's personal data and account; the row stays for references."""
    member = people.get_member(user, member_id)
    access.require_platform_admin(user)
    member = _locked(member)
    if member.deleted_at is None:
        raise ApiError("not_deleted", 409, "Only a member in the history library can be purged.")
    member.name, member.phone, member.id_number, member.birth_date, member.gender = PURGED_NAME, None, None, None, None
    member.purged_at = utcnow()
    for transfer in db.session.scalars(select(Transfer).where(Transfer.member_id == member.id)):
        transfer.member_data = None  # the registration copy of an into-system transfer holds the same data
        transfer.reason = PURGED_NAME
    flows.erase_personal(member.id)
    exemptions.erase_personal(member.id)
    _erase_notices(member)
    account = db.session.scalars(select(User).where(User.member_id == member.id)).first()
    if account is not None:
        _delete_account(account)


def _erase_notices(member: Member) -> None:
    """Notices about the member's transfers, flows and exemption requests named them: blank those."""
    about = [(kind, select(model.id).where(model.member_id == member.id))
             for kind, model in (("transfer", Transfer), ("flow", MemberFlow), ("exemption", ExemptionRequest))]
    db.session.execute(update(Notification).where(or_(*(
        (Notification.subject_kind == kind) & Notification.subject_id.in_(ids) for kind, ids in about)))
        .values(title=PURGED_NAME, body=None).execution_options(synchronize_session=False))
    db.session.execute(delete(Notification).where(Notification.member_id == member.id)
                       .execution_options(synchronize_session=False))


def _locked(member: Member) -> Member:
    # Serialises with transfers and with a second delete/restore of the same member.
    return lock_row(Member, member.id)


def _delete_account(account: User) -> None:
    db.session.execute(delete(Notification).where(Notification.user_id == account.id))
    # Audit columns (task events, meetings, transfers, ...) keep their rows but lose the erased person;
    # found from the schema so that tables added later are covered too.
    for table in db.metadata.sorted_tables:
        if table.name in ("app_user", "role_grant", "notification"):
            continue
        for column in table.columns:
            if column.nullable and any(fk.column.table.name == "app_user" for fk in column.foreign_keys):
                db.session.execute(update(table).where(column == account.id).values({column.name: None}))
    db.session.delete(account)  # its grants go with it (cascade)
    db.session.flush()


def member_history(user, member_id: int) -> list[dict]:
    """The organisations the member belonged to, oldest first, for anyone who may see the member."""
    periods = membership.history(people.get_member(user, member_id))
    names = _org_names({p.org_id for p in periods})
    return [{"org_id": p.org_id, "org_name": names.get(p.org_id), "started_at": p.started_at, "ended_at": p.ended_at,
             "start_reason": p.start_reason, "end_reason": p.end_reason, "transfer_id": p.transfer_id}
            for p in periods]


def export_members(user, org_id: int, deleted: bool = False) -> bytes:
    """The members (or history library) of an org and its subtree as an xlsx workbook."""
    org = access.get_org(org_id)
    access.require_admin(user, org)
    return _workbook(_members_under(org, deleted), deleted)


def _members_under(org: Org, deleted: bool) -> list[Member]:
    in_library = Member.deleted_at.is_not(None) if deleted else Member.deleted_at.is_(None)
    where = Member.group_id == org.id if org.kind == "group" else Member.org_id.in_(access.subtree_ids([org.id]))
    return list(db.session.scalars(select(Member).where(where, in_library, Member.purged_at.is_(None))
                                   .order_by(Member.org_id, Member.id)))


def _org_names(ids: set[int]) -> dict[int, str]:
    return dict(db.session.execute(select(Org.id, Org.name).where(Org.id.in_(ids))).all()) if ids else {}


def _workbook(members: list[Member], deleted: bool) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "党员历史库" if deleted else "党员名册"
    headers = EXPORT_HEADERS + (LIBRARY_HEADERS if deleted else ())
    sheet.append(headers)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    names = _org_names({m.org_id for m in members} | {m.group_id for m in members if m.group_id})
    for number, member in enumerate(members, start=2):
        append_text_row(sheet, number, _row(member, names, deleted))
    sheet.freeze_panes = "A2"
    for column, width in zip("ABCDEFGHIJKLMNO", (8, 12, 16, 22, 20, 14, 10, 12, 12, 6, 10, 16, 12, 18, 30)):
        sheet.column_dimensions[column].width = width
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def append_text_row(sheet, number: int, values: list) -> None:
    """Append a row whose text is never a formula and holds no characters xlsx cannot store."""
    sheet.append([_safe(v) for v in values])
    for cell in next(sheet.iter_rows(min_row=number, max_row=number, max_col=len(values))):
        if cell.data_type == "f":  # people's text is never a formula in someone else's spreadsheet
            cell.data_type = "s"
        if hasattr(cell.value, "year"):
            cell.number_format = "yyyy-mm-dd"


def _row(member: Member, names: dict, deleted: bool) -> list:
    row = [member.id, member.name, member.phone, member.id_number, names.get(member.org_id),
           names.get(member.group_id), CATEGORY_NAMES.get(member.category, member.category), member.joined_at,
           member.birth_date, GENDER_NAMES.get(member.gender, member.gender),
           ROLE_NAMES.get(member.committee_role, member.committee_role), "是" if member.smartphone_exempt else "否",
           "是" if member.smartphone_exempt_approved_at else "否"]
    if deleted:
        row += [member.deleted_at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M"), member.deleted_reason]
    return row


def import_template() -> bytes:
    """The import workbook: the header, one example row and a sheet explaining every column."""
    book = Workbook()
    sheet = book.active
    sheet.title = "党员名册"
    append_text_row(sheet, 1, [c.header for c in member_import.COLUMNS])
    append_text_row(sheet, 2, [c.example for c in member_import.COLUMNS])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for letter, column in zip("ABCDEFGHIJ", member_import.COLUMNS):
        sheet.column_dimensions[letter].width = max(10, 2 * len(column.header) + 4)
    for letter in "BC":  # phone and ID numbers stay text: Excel would round an 18-digit number
        sheet.column_dimensions[letter].number_format = "@"
        sheet[f"{letter}2"].number_format = "@"
    sheet.column_dimensions["C"].width = 22
    sheet.freeze_panes = "A2"
    _help_sheet(book.create_sheet("填写说明"))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _help_sheet(sheet) -> None:
    append_text_row(sheet, 1, ["列名", "英文字段名", "必填", "说明"])
    for number, column in enumerate(member_import.COLUMNS, start=2):
        append_text_row(sheet, number, [column.header, column.field, "是" if column.required else "否", column.help])
    notes = ["第1行为表头，请勿修改；第2行是示例，导入前请删除。空行会被跳过，但仍计入行号。",
             f"每次最多导入{member_import.MAX_ROWS}行，文件不超过5MB；可上传本xlsx文件或UTF-8编码的CSV文件。",
             "有手机号的党员以手机号为登录账号；无手机号但有身份证号的，以身份证号为账号；两者皆无的不开账号。",
             "初始密码在导入结果中只显示一次，首次登录必须修改。"]
    sheet.append([])
    for offset, note in enumerate(notes):
        append_text_row(sheet, len(member_import.COLUMNS) + 3 + offset, [note])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for letter, width in zip("ABCD", (18, 20, 6, 80)):
        sheet.column_dimensions[letter].width = width
