"""Organisations, members and user accounts."""
from sqlalchemy import select

from ..auth import check_password_policy, hash_password
from ..database import transactional
from ..errors import ApiError
from ..extensions import db
from ..models import Member, Org, RoleGrant, User
from ..models.orgs import ALLOWED_PARENTS
from . import access


@transactional
def create_org(user, data: dict) -> Org:
    """Add an org under a parent whose kind allows it."""
    parent = access.get_org(data["parent_id"]) if data.get("parent_id") is not None else None
    if parent is None:
        access.require_platform_admin(user)
    else:
        access.require_admin(user, parent)
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
    if data.get("group_id") is not None:
        group = access.get_org(data["group_id"])
        if group.kind != "group" or group.parent_id != org.id:
            raise ApiError("invalid_group", 422, "The group is not a group of this branch.",
                           errors={"group_id": ["not a group of the branch"]})
    _require_free_phone(data.get("phone"))
    member = Member(**data)
    db.session.add(member)
    db.session.flush()
    return member


def _require_free_phone(phone: str | None, except_id: int | None = None) -> None:
    if not phone:
        return
    holder = db.session.scalars(select(Member).where(Member.phone == phone)).first()
    if holder is not None and holder.id != except_id:
        org = db.session.get(Org, holder.org_id)
        raise ApiError("phone_taken", 409, f"The phone number already belongs to a member of {org.name}.",
                       org_id=org.id, org_name=org.name)


def get_member(user, member_id: int) -> Member:
    """A member the caller may see: themself, or one in an org they administer."""
    member = db.session.get(Member, member_id)
    if member is None or not (user.member_id == member.id or access.administers(user, db.session.get(Org, member.org_id))):
        raise ApiError("member_not_found", 404, f"Member {member_id} does not exist.")
    return member


def list_members(user, org_id: int | None) -> list[Member]:
    """Members of an org the caller administers (or just themself)."""
    if org_id is None:
        return [db.session.get(Member, user.member_id)] if user.member_id else []
    org = access.get_org(org_id)
    access.require_admin(user, org)
    column = Member.group_id if org.kind == "group" else Member.org_id
    return list(db.session.scalars(select(Member).where(column == org.id, Member.deleted_at.is_(None))
                                   .order_by(Member.id)))


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
