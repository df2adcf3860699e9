"""What follows a member out of a branch (transfer, leaving the system, the history library).

Meetings not yet held stop expecting them; their 流动党员 record, pending exemption request and score claims end;
tasks their account claimed in orgs it no longer administers go back to the other candidates.
"""
from sqlalchemy import delete, select, update

from ..extensions import db
from ..models import Attendance, HumanTask, Meeting, Member, Org, RoleGrant, User
from . import claims, exemptions, flows
from .tasks import ADMIN_LANES

UPCOMING = ("created", "notified")  # meetings not yet held


def member_left(member: Member, user, reason: str) -> None:
    """Tidy up after a member left their branch (call before their org or grants change)."""
    leave_upcoming_meetings(member)
    flows.end_for_member(member.id, reason)
    exemptions.cancel_for_member(member.id, user, reason)
    claims.cancel_for_member(member.id, user, reason)


def leave_upcoming_meetings(member: Member) -> None:
    """A member who leaves is no longer invited to, or counted in, the branch's meetings not yet held."""
    branch_and_groups = [member.org_id, *db.session.scalars(select(Org.id).where(Org.parent_id == member.org_id))]
    upcoming = select(Meeting.id).where(Meeting.org_id.in_(branch_and_groups), Meeting.status.in_(UPCOMING))
    db.session.execute(delete(Attendance).where(Attendance.member_id == member.id,
                                                Attendance.meeting_id.in_(upcoming))
                       .execution_options(synchronize_session=False))


def account_of(member: Member) -> int | None:
    """The member's login account, if any."""
    return db.session.scalars(select(User.id).where(User.member_id == member.id)).first()


def release_claims(account_id: int | None, everything: bool = False) -> None:
    """Claims the account may no longer act on (or all of them) return to the task's other candidates."""
    if account_id is None:
        return
    query = update(HumanTask).where(HumanTask.state == "open", HumanTask.assignee_id == account_id,
                                    HumanTask.role.in_(ADMIN_LANES))
    if not everything:
        still = select(RoleGrant.org_id).where(RoleGrant.user_id == account_id, RoleGrant.role == "org_admin")
        query = query.where(HumanTask.org_id.not_in(still))
    db.session.execute(query.values(assignee_id=None).execution_options(synchronize_session=False))
