"""Who may do what: the org tree and role grants."""
from sqlalchemy import select

from ..errors import ApiError
from ..extensions import db
from ..models import Org, User
from ..models.orgs import REVIEWING_KINDS


def get_org(org_id: int) -> Org:
    """The org or a 404 problem."""
    org = db.session.get(Org, org_id) if org_id is not None else None
    if org is None:
        raise ApiError("org_not_found", 404, f"Organisation {org_id} does not exist.")
    return org


def ancestors(org: Org) -> list[Org]:
    """The org's ancestors, nearest first."""
    chain, seen = [], {org.id}
    while org.parent_id is not None and org.parent_id not in seen:
        org = db.session.get(Org, org.parent_id)
        seen.add(org.id)
        chain.append(org)
    return chain


def superior_of(org: Org) -> Org | None:
    """The reviewing superior: the nearest 党总支, else the nearest 党委."""
    return next((a for a in ancestors(org) if a.kind in REVIEWING_KINDS), None)


def require_active(org: Org, field: str = "org_id") -> None:
    """422 org_retired for a branch merged into another: it takes no new members, groups or meetings."""
    if org.retired_at is not None:
        raise ApiError("org_retired", 422, f"Organisation {org.id} was merged into another and is retired.",
                       errors={field: ["retired"]})


def branch_of(org: Org) -> Org:
    """A group's branch, or the org itself."""
    return db.session.get(Org, org.parent_id) if org.kind == "group" else org


def is_platform_admin(user: User) -> bool:
    """Whether the user holds the platform_admin role."""
    return any(g.role == "platform_admin" for g in user.grants)


def admin_org_ids(user: User) -> set[int]:
    """Orgs the user administers directly."""
    return {g.org_id for g in user.grants if g.role == "org_admin" and g.org_id is not None}


def administers(user: User, org: Org) -> bool:
    """Platform admins, and org admins of the org or of any ancestor (a superior oversees its subtree)."""
    if is_platform_admin(user):
        return True
    mine = admin_org_ids(user)
    return bool(mine) and (org.id in mine or any(a.id in mine for a in ancestors(org)))


def require_admin(user: User, org: Org) -> None:
    """403 unless the user administers the org."""
    if not administers(user, org):
        raise ApiError("forbidden", 403, f"You do not administer organisation {org.id}.")


def require_platform_admin(user: User) -> None:
    """403 unless the user is a platform admin."""
    if not is_platform_admin(user):
        raise ApiError("forbidden", 403, "Only a platform administrator may do this.")


def children(org: Org) -> list[Org]:
    """Direct children of an org."""
    return list(db.session.scalars(select(Org).where(Org.parent_id == org.id).order_by(Org.id)))


def subtree_ids(root_ids: list[int]) -> list[int]:
    """The given orgs and everything below them."""
    ids, frontier = list(dict.fromkeys(root_ids)), list(dict.fromkeys(root_ids))
    seen = set(ids)
    while frontier:  # `seen` keeps a corrupted tree (a cycle) from looping forever
        frontier = [o for o in db.session.scalars(select(Org.id).where(Org.parent_id.in_(frontier))) if o not in seen]
        seen.update(frontier)
        ids.extend(frontier)
    return ids
