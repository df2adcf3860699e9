"""Organisations, members and user accounts."""
import re
from datetime import date

from sqlalchemy import select

from ..auth import check_password_policy, hash_password
from ..database import lock_row, transactional, utcnow
from ..errors import ApiError
from ..extensions import db
from ..models import Member, Org, RoleGrant, User
from ..models.orgs import ALLOWED_PARENTS
from . import access, membership

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARS = "10X98765432"
EDITABLE = ("name", "phone", "id_number", "group_id", "category", "committee_role", "joined_at", "birth_date",
            "gender")


@transactional
def create_org(user, data: dict) -> Org:
    """Add an org under a parent whose kind allows it."""
    parent = access.get_org(data["parent_id"]) if data.get("parent_id") is not None else None
    if parent is None:
        access.require_platform_admin(user)
    else:
        access.require_admin(user, parent)
        access.require_active(parent)
    if (parent.kind if parent else None) not in ALLOWED_PARENTS[data["kind"]]:
        where = f"a {parent.kind}" if parent else "no parent"
        raise ApiError("invalid_parent", 422, f"A {data['kind']} cannot be placed under {where}.")
    org = Org(name=data["name"], kind=data["kind"], parent_id=parent.id if parent else None)
    db.session.add(org)
    db.session.flush()
    return org


@transactional
def create_member(user, data: dict) -> Member:
    """Register a member in a branch (and optionally one of its groups)."""
    org = access.get_org(data["org_id"])
    access.require_admin(user, org)
    if org.kind != "branch":
        raise ApiError("invalid_org", 422, "Members belong to a branch (党支部).", errors={"org_id": ["not a branch"]})
    access.require_active(org)
    if data.get("group_id") is not None:
        _require_group_of(org, data["group_id"])
    require_free_phone(data.get("phone"))
    data = {**data, "id_number": _require_free_id_number(normalise_id_number(data.get("id_number")))}
    member = Member(**data)
    # The superior approves the 使用智能手机不便 flag; a platform admin stands above every superior.
    member.smartphone_exempt_approved_at = utcnow() if member.smartphone_exempt and access.is_platform_admin(user) else None
    db.session.add(member)
    db.session.flush()
    membership.open_period(member, "registered")
    return member


def _require_group_of(branch: Org, group_id: int) -> None:
    group = access.get_org(group_id)
    if group.kind != "group" or group.parent_id != branch.id:
        raise ApiError("invalid_group", 422, "The group is not a group of this branch.",
                       errors={"group_id": ["not a group of the branch"]})


def require_free_phone(phone: str | None, except_id: int | None = None) -> None:
    """409 phone_taken, naming the org, when another member (deleted ones too) holds the number."""
    if not phone:
        return
    holder = db.session.scalars(select(Member).where(Member.phone == phone)).first()
    if holder is not None and holder.id != except_id:
        org = db.session.get(Org, holder.org_id)
        raise ApiError("phone_taken", 409, f"The phone number already belongs to a member of {org.name}.",
                       org_id=org.id, org_name=org.name)


def _require_free_id_number(id_number: str | None, except_id: int | None = None) -> str | None:
    if not id_number:
        return None
    holder = db.session.scalars(select(Member).where(Member.id_number == id_number)).first()
    if holder is not None and holder.id != except_id:
        org = db.session.get(Org, holder.org_id)
        raise ApiError("id_number_taken", 409, f"The ID number already belongs to a member of {org.name}.",
                       org_id=org.id, org_name=org.name)
    return id_number


def id_number_birth_date(id_number: str) -> date | None:
    """The birth date an 18-character ID number (GB 11643) encodes, or None when it has none or is malformed."""
    if not re.fullmatch(r"\d{17}[\dX]", id_number or ""):
        return None
    try:
        born = date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
    except ValueError:
        return None
    return born if date(1880, 1, 1) <= born <= date.today() else None


def id_number_valid(id_number: str) -> bool:
    """Whether an upper-case 18-character ID number has a real birth date and the right check character."""
    if id_number_birth_date(id_number) is None:
        return False
    total = sum(int(digit) * weight for digit, weight in zip(id_number, ID_WEIGHTS))
    return id_number[17] == ID_CHECK_CHARS[total % 11]


def normalise_id_number(value: str | None) -> str | None:
    """Trimmed, upper-case X, checked (422 invalid_id_number); None when blank."""
    value = (value or "").strip().upper()
    if not value:
        return None
    if not id_number_valid(value):
        raise ApiError("invalid_id_number", 422, "The ID number (身份证号) is not a valid 18-character number.",
                       errors={"id_number": ["invalid GB 11643 ID number"]})
    return value


def find_member(member_id: int) -> Member | None:
    """A member who has not been purged (a purged member no longer exists for anyone)."""
    member = db.session.get(Member, member_id)
    return None if member is None or member.purged_at is not None else member


def get_member(user, member_id: int) -> Member:
    """A member the caller may see: themself, or one in an org they administer."""
    member = find_member(member_id)
    if member is None or not (user.member_id == member.id or access.administers(user, db.session.get(Org, member.org_id))):
        raise ApiError("member_not_found", 404, f"Member {member_id} does not exist.")
    return member


def get_administered_member(user, member_id: int) -> Member:
    """A member of a branch the caller administers (404 if invisible, 403 if only visible)."""
    member = get_member(user, member_id)
    access.require_admin(user, db.session.get(Org, member.org_id))
    return member


def list_members(user, org_id: int | None, deleted: bool = False) -> list[Member]:
    """Members of an org the caller administers (or just themself); deleted=True: its history library."""
    if org_id is None:
        return [db.session.get(Member, user.member_id)] if user.member_id and not deleted else []
    org = access.get_org(org_id)
    access.require_admin(user, org)
    column = Member.group_id if org.kind == "group" else Member.org_id
    in_library = Member.deleted_at.is_not(None) if deleted else Member.deleted_at.is_(None)
    return list(db.session.scalars(select(Member).where(column == org.id, in_library, Member.purged_at.is_(None))
                                   .order_by(Member.id)))


@transactional
def update_member(user, member_id: int, data: dict) -> Member:
    """Edit a member's registry entry; moving to another branch is a transfer, not an edit."""
    member = get_administered_member(user, member_id)
    if "org_id" in data:
        raise ApiError("use_transfer", 422, "A member changes branch through a transfer (组织关系转接).",
                       errors={"org_id": ["not editable; start a transfer"]})
    if not data:
        raise ApiError("no_changes", 422, "Nothing to change.")
    member = lock_row(Member, member.id)  # a transfer completing meanwhile must not leave a group of the old branch
    if member.deleted_at is not None:
        raise ApiError("member_deleted", 409, "The member is in the history library; restore them first.")
    _check_edit(member, data)
    for field in EDITABLE:
        if field in data:
            setattr(member, field, data[field])
    if "smartphone_exempt" in data:
        _set_exempt(user, member, data["smartphone_exempt"])
    db.session.flush()
    return member


def _check_edit(member: Member, data: dict) -> None:
    if data.get("phone"):
        require_free_phone(data["phone"], member.id)
    if "id_number" in data:
        data["id_number"] = _require_free_id_number(normalise_id_number(data["id_number"]), member.id)
    if data.get("group_id") is not None:
        _require_group_of(db.session.get(Org, member.org_id), data["group_id"])


def _set_exempt(user, member: Member, exempt: bool) -> None:
    """Clearing the flag clears its approval; a platform admin setting it approves it; others only flag it."""
    member.smartphone_exempt = exempt
    if not exempt:
        member.smartphone_exempt_approved_at = None
    elif access.is_platform_admin(user) and member.smartphone_exempt_approved_at is None:
        member.smartphone_exempt_approved_at = utcnow()


@transactional
def create_user(user, data: dict) -> User:
    """An admin creates an account; it must change its password at first login."""
    for grant in data["roles"]:
        _require_may_grant(user, grant)
    if data.get("member_id") is not None:
        get_member(user, data["member_id"])
    if db.session.scalars(select(User).where(User.username == data["username"])).first():
        raise ApiError("username_taken", 409, f"The username '{data['username']}' is taken.")
    if data.get("member_id") is not None and db.session.scalars(
            select(User.id).where(User.member_id == data["member_id"])).first():
        raise ApiError("member_has_account", 409, f"Member {data['member_id']} already has an account.")
    check_password_policy(data["password"])
    account = User(username=data["username"], password_hash=hash_password(data["password"]),
                   member_id=data.get("member_id"), must_change_password=True, failed_logins=0)
    account.grants = [RoleGrant(role=g["role"], org_id=g.get("org_id")) for g in data["roles"]]
    db.session.add(account)
    db.session.flush()
    return account


def _require_may_grant(user, grant: dict) -> None:
    if grant["role"] == "platform_admin":
        access.require_platform_admin(user)
    else:
        access.require_admin(user, access.get_org(grant.get("org_id")))
