"""Importing a branch's members from a spreadsheet (CSV or xlsx), each with a login account."""
import re
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.security import generate_password_hash

from ..auth import check_password_policy, hash_password
from ..database import transactional, utcnow
from ..errors import ApiError
from ..extensions import db
from ..models import Member, Org, RoleGrant, User
from . import access, membership, people, spreadsheet_files

MAX_ROWS = 5000
PASSWORD_LETTERS, PASSWORD_DIGITS, PASSWORD_SYMBOLS = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ", "23456789", "#$%&*+-=?@"

GENERATED_HASH = "pbkdf2:sha256:5000"  # for random one-time passwords only; see _hashes


class Column(NamedTuple):
    header: str
    field: str
    required: bool
    help: str
    example: object


COLUMNS = (
    Column("姓名", "name", True, "必填，不超过100字", "张三"),
    Column("手机号", "phone", False, "登录账号即手机号；一个手机号全系统只属于一名党员", "13812345678"),
    Column("身份证号", "id_number", False, "18位，末位校验码须正确（X大写小写均可）；全系统唯一；无手机号时作为登录账号",
           "110105198001010016"),
    Column("党小组", "group", False, "本支部已有党小组的名称；可留空", ""),
    Column("人员类别", "category", True, "必填：正式党员 或 预备党员", "正式党员"),
    Column("入党日期", "joined_at", True, "必填：日期，如 2015-07-01 或 2015/7/1", date(2015, 7, 1)),
    Column("出生日期", "birth_date", False, "日期；留空时由身份证号得出", None),
    Column("性别", "gender", False, "男 或 女；可留空", "男"),
    Column("支委职务", "committee_role", False, "书记、副书记、委员，或留空", None),
    Column("使用智能手机不便", "smartphone_exempt", False, "是 或 否（留空为否）；年满60岁或因健康原因", "否"),
)
HEADER_FIELDS = {c.header: c.field for c in COLUMNS} | {c.field: c.field for c in COLUMNS} | {"group_name": "group"}
FIELD_ORDER = {c.field: i for i, c in enumerate(COLUMNS)}
CATEGORIES = {"正式党员": "full", "预备党员": "probationary", "full": "full", "probationary": "probationary"}
ROLES = {"书记": "secretary", "副书记": "deputy_secretary", "委员": "committee_member", "secretary": "secretary",
         "deputy_secretary": "deputy_secretary", "committee_member": "committee_member"}
GENDERS = {"男": "male", "女": "female", "male": "male", "female": "female"}
YES_NO = {"是": True, "否": False, "true": True, "false": False, "yes": True, "no": False, "1": True, "0": False}
DATE_TEXT = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]00:00(?::00)?)?")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class _Bad(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


@dataclass
class _Row:
    number: int  # as the spreadsheet shows it: the header is row 1
    values: dict
    errors: list = field(default_factory=list)  # (field, code, message)

    def fail(self, name: str, code: str, message: str) -> None:
        self.errors.append((name, code, message))

    @property
    def username(self) -> str | None:
        """The login name: the phone, else the ID number (elderly members without a phone), else none."""
        return self.values.get("phone") or self.values.get("id_number")


@transactional
def import_members(user, org_id: int, file, initial_password: str | None = None) -> dict:
    """Create the good rows' members and accounts in one transaction; report the bad rows."""
    branch = _target_branch(user, org_id)
    if initial_password:
        check_password_policy(initial_password)
    rows = _parse_rows(read_table(file), _groups(branch))
    _check_numbers(rows)
    good = [r for r in rows if not r.errors]
    try:
        accounts = _insert(user, branch, good, initial_password)
    except IntegrityError:  # someone took a number meanwhile: abort everything rather than half-import
        raise ApiError("import_conflict", 409, "Another change took one of these phone numbers, ID numbers or "
                       "usernames during the import; nothing was imported. Import the file again.")
    errors = [{"row": r.number, "field": f, "code": c, "message": m}
              for r in rows for f, c, m in sorted(r.errors, key=lambda e: FIELD_ORDER.get(e[0], 99))]
    return {"created": len(good), "errors": errors, "accounts": accounts}


def _target_branch(user, org_id: int) -> Org:
    org = access.get_org(org_id)
    access.require_admin(user, org)
    if org.kind != "branch":
        raise ApiError("invalid_org", 422, "Members belong to a branch (党支部).", errors={"org_id": ["not a branch"]})
    access.require_active(org)
    return org


def _groups(branch: Org) -> dict[str, int]:
    return dict(db.session.execute(select(Org.name, Org.id).where(
        Org.parent_id == branch.id, Org.kind == "group", Org.retired_at.is_(None))).all())


def _invalid(detail: str, **ext) -> ApiError:
    return ApiError("invalid_import", 422, detail, errors={"file": [detail]}, **ext)


# --- reading the file -------------------------------------------------------------------------------------------

def read_table(file) -> list[tuple[int, dict]]:
    """The non-blank data rows as (spreadsheet row number, {field: cell value}); 422 invalid_import otherwise."""
    records = spreadsheet_files.records(file, MAX_ROWS, _invalid)
    if not records or spreadsheet_files.blank(records[0]):
        raise _invalid("The first row must be the header (姓名, 手机号, ...).")
    columns = _header(records[0])
    table = [(number, {name: value for name, value in zip(columns, record) if name})
             for number, record in enumerate(records[1:], start=2) if not spreadsheet_files.blank(record)]
    if len(table) > MAX_ROWS:
        raise _invalid(f"At most {MAX_ROWS} rows can be imported at once.", max_rows=MAX_ROWS)
    return table


def _header(record: list) -> list[str | None]:
    names = [str(value).strip().lstrip("\ufeff") if value is not None else "" for value in record]
    columns = [HEADER_FIELDS.get(name) if name else None for name in names]
    unknown = [name for name, column in zip(names, columns) if name and column is None]
    present = [column for column in columns if column]
    duplicated = sorted({c for c in present if present.count(c) > 1})
    missing = [c.header for c in COLUMNS if c.required and c.field not in present]
    if unknown or duplicated or missing:
        raise _invalid("The header row does not match the template.", unknown_columns=unknown,
                       duplicate_columns=duplicated, missing_columns=missing)
    return columns


# --- checking the rows ------------------------------------------------------------------------------------------

def _parse_rows(table: list[tuple[int, dict]], groups: dict[str, int]) -> list[_Row]:
    parsers = {**PARSERS, "group": lambda value: _group(value, groups)}
    rows = []
    for number, raw in table:
        row = _Row(number, {})
        for name, parse in parsers.items():
            try:
                row.values[name] = parse(raw.get(name))
            except _Bad as bad:
                row.fail(name, bad.code, bad.message)
        row.values["group_id"] = row.values.pop("group", None)
        if row.values.get("birth_date") is None and row.values.get("id_number"):
            row.values["birth_date"] = people.id_number_birth_date(row.values["id_number"])
        rows.append(row)
    return rows


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a phone number typed into a numeric cell
    if isinstance(value, datetime):
        return value.date().isoformat()
    return str(value).strip()


def _name(value) -> str:
    text = _text(value)
    if not text:
        raise _Bad("required", "姓名 (name) is required.")
    if len(text) > 100 or CONTROL.search(text):
        raise _Bad("invalid", "The name must be at most 100 characters without control characters.")
    return text


def _phone(value) -> str | None:
    text = _text(value)
    if text and not re.fullmatch(r"[0-9+\-]{5,20}", text):
        raise _Bad("invalid", "The phone number must be 5 to 20 digits, '+' or '-'.")
    return text or None


def _id_number(value) -> str | None:
    text = _text(value).upper()
    if text and not people.id_number_valid(text):
        raise _Bad("invalid_id_number", "The ID number (身份证号) is not a valid 18-character number: "
                   "its date or check character is wrong.")
    return text or None


def _group(value, groups: dict[str, int]) -> int | None:
    text = _text(value)
    if text and text not in groups:
        raise _Bad("unknown_group", f"The branch has no group (党小组) named '{text}'.")
    return groups.get(text) if text else None


def _choice(mapping: dict, label: str, required: bool = False):
    def parse(value):
        text = _text(value)
        if not text:
            if required:
                raise _Bad("required", f"{label} is required.")
            return None
        if text.lower() not in mapping and text not in mapping:
            raise _Bad("invalid", f"{label} must be one of: {', '.join(k for k in mapping if not k.isascii())}.")
        return mapping.get(text, mapping.get(text.lower()))
    return parse


def _date(label: str, required: bool = False):
    def parse(value):
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        text = _text(value)
        if not text:
            if required:
                raise _Bad("required", f"{label} is required.")
            return None
        match = DATE_TEXT.fullmatch(text)
        try:
            return date(*(int(part) for part in match.groups())) if match else _bad_date(label)
        except ValueError:
            return _bad_date(label)
    return parse


def _bad_date(label: str):
    raise _Bad("invalid", f"{label} must be a date such as 2015-07-01 or 2015/7/1.")


def _yes_no(value) -> bool:
    if isinstance(value, bool):
        return value
    text = _text(value).lower()
    if text not in YES_NO and text:
        raise _Bad("invalid", "使用智能手机不便 must be 是 or 否.")
    return YES_NO.get(text, False)


PARSERS = {"name": _name, "phone": _phone, "id_number": _id_number, "group": None,
           "category": _choice(CATEGORIES, "人员类别 (category)", required=True),
           "joined_at": _date("入党日期 (joined_at)", required=True), "birth_date": _date("出生日期 (birth_date)"),
           "gender": _choice(GENDERS, "性别 (gender)"), "committee_role": _choice(ROLES, "支委职务 (committee_role)"),
           "smartphone_exempt": _yes_no}


NUMBERS = ((Member.phone, "phone", "phone_taken", "phone number"),
           (Member.id_number, "id_number", "id_number_taken", "ID number"))


def _check_numbers(rows: list[_Row]) -> None:
    """Phone and ID numbers (and the usernames made of them) must be free, and on one imported row only."""
    for column, name, code, noun in NUMBERS:
        values = {r.values[name] for r in rows if r.values.get(name)}
        for value, org_name in _holders(column, sorted(values)).items():
            for row in rows:
                if row.values.get(name) == value:
                    row.fail(name, code, f"The {noun} already belongs to a member of {org_name}.")
    _check_taken_usernames([r for r in rows if not r.errors])
    claimed: dict[tuple[str, str], _Row] = {}
    for row in rows:  # only a row that will be imported may claim a number from the rows after it
        if row.errors:
            continue
        keys = [(name, code, noun, row.values.get(name)) for _, name, code, noun in NUMBERS if row.values.get(name)]
        keys += [("username", "username_taken", "username", row.username)] if row.username else []
        for name, code, noun, value in keys:
            earlier = claimed.get((name, value))
            if earlier is not None and not (name == "username" and row.errors):  # one report for one number
                field = _username_field(row) if name == "username" else name
                row.fail(field, code, f"The {noun} {value if name == 'username' else ''} is also on row "
                         f"{earlier.number}.".replace("  ", " "))
        if not row.errors:
            claimed.update({(name, value): row for name, _, _, value in keys})


def _holders(column, values: list[str]) -> dict[str, str]:
    found = {}
    for start in range(0, len(values), 500):
        found.update(db.session.execute(select(column, Org.name).join(Org, Org.id == Member.org_id)
                                        .where(column.in_(values[start:start + 500]))).all())
    return found


def _check_taken_usernames(rows: list[_Row]) -> None:
    by_name = {r.username: r for r in rows if r.username}
    names = list(by_name)
    for start in range(0, len(names), 500):
        for taken in db.session.scalars(select(User.username).where(User.username.in_(names[start:start + 500]))):
            row = by_name[taken]
            row.fail(_username_field(row), "username_taken", f"The username {taken} is already taken.")


def _username_field(row: _Row) -> str:
    return "phone" if row.values.get("phone") else "id_number"


# --- writing ----------------------------------------------------------------------------------------------------

def _insert(user, branch: Org, rows: list[_Row], initial_password: str | None) -> list[dict]:
    approved_at = utcnow() if access.is_platform_admin(user) else None  # as for a member created one by one
    members = [Member(org_id=branch.id, **row.values,
                      smartphone_exempt_approved_at=approved_at if row.values["smartphone_exempt"] else None)
               for row in rows]
    db.session.add_all(members)
    db.session.flush()
    for member in members:
        membership.open_period(member, "imported")
    accounts = _accounts(list(zip(rows, members)), branch, initial_password)
    db.session.flush()
    return accounts


def _accounts(pairs: list[tuple[_Row, Member]], branch: Org, initial_password: str | None) -> list[dict]:
    pairs = [(row, member) for row, member in pairs if row.username is not None]  # no phone, no ID: no login
    secrets_ = [initial_password or random_password() for _ in pairs]
    hashes = _hashes(secrets_, shared=initial_password is not None)
    out = []
    for (row, member), secret, password_hash in zip(pairs, secrets_, hashes):
        account = User(username=row.username, password_hash=password_hash, member_id=member.id,
                       must_change_password=True, failed_logins=0)
        account.grants = [RoleGrant(role="member", org_id=branch.id)]
        db.session.add(account)
        out.append({"row": row.number, "member_id": member.id, "username": row.username,
                    **({} if initial_password else {"initial_password": secret})})
    return out


def _hashes(passwords: list[str], shared: bool) -> list[str]:
    """A shared initial password (chosen by a person) gets the slow configured hash, once.

    Generated ones are random 12-character strings (about 60 bits) that must be changed at the first login, where
    they are re-hashed with the configured method: a slow hash adds nothing against guessing them, and scrypt
    per row would make an import of a few thousand members take minutes while holding the write lock.
    """
    if not passwords:
        return []
    if shared:
        return [hash_password(passwords[0])] * len(passwords)
    return [generate_password_hash(p, method=GENERATED_HASH) for p in passwords]


def random_password() -> str:
    """Twelve characters meeting the password policy, without look-alikes (l/1, O/0)."""
    chars = ([secrets.choice(PASSWORD_LETTERS) for _ in range(8)] + [secrets.choice(PASSWORD_DIGITS) for _ in range(3)]
             + [secrets.choice(PASSWORD_SYMBOLS)])
    secrets.SystemRandom().shuffle(chars)
    password = "".join(chars)
    check_password_policy(password)
    return password
