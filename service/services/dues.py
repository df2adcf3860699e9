"""党费 (dues) payments: every payment is recorded; points go through the caps like every other source.

三晋先锋: 5 points a month, only for dues paid online within the China month they pay for; back-payments and
offline payments earn nothing (the `dues` rule kind decides, the monthly cap stops a second payment earning).
"""
from datetime import timedelta

from sqlalchemy import false, or_, select

import rules

from ..database import transactional, utcnow
from ..errors import ApiError
from ..extensions import db
from ..models import DuesPayment, Member, Org
from . import access, scoring

CLOCK_SKEW = timedelta(minutes=5)  # a payment system's clock may run a little ahead of ours


@transactional
def record_payment(user, integration, data: dict) -> DuesPayment:
    """A platform admin, an admin over the member's branch, or an integration token records a payment."""
    member = db.session.get(Member, data["member_id"])
    if member is None:
        raise ApiError("member_not_found", 404, f"Member {data['member_id']} does not exist.")
    if integration is None:
        access.require_admin(user, db.session.get(Org, member.org_id))
    if data["paid_at"] > utcnow() + CLOCK_SKEW:
        raise ApiError("paid_in_future", 422, "paid_at is in the future.", errors={"paid_at": ["in the future"]})
    payment = DuesPayment(member_id=member.id, month=data["month"], channel=data["channel"], paid_at=data["paid_at"],
                          amount=data["amount"], recorded_by=user.id if user else None, created_at=utcnow(), points=0)
    db.session.add(payment)
    db.session.flush()
    event = rules.Event(id=f"dues:{payment.id}", action="dues", member_id=member.id, occurred_at=payment.paid_at,
                        month=payment.month, channel=payment.channel, paid_at=payment.paid_at)
    payment.points = scoring.apply_events([event], user)[2]
    return payment


def list_payments(user, filters: dict) -> list[DuesPayment]:
    """Payments the caller may see (platform admins: all; org admins: their subtrees' members; members: their own)."""
    query = select(DuesPayment).join(Member, Member.id == DuesPayment.member_id)
    if not access.is_platform_admin(user):
        mine = [DuesPayment.member_id == user.member_id] if user.member_id is not None else []
        admin_orgs = access.admin_org_ids(user)
        if admin_orgs:
            mine.append(Member.org_id.in_(access.subtree_ids(sorted(admin_orgs))))
        query = query.where(or_(*mine)) if mine else query.where(false())
    if filters.get("member_id") is not None:
        query = query.where(DuesPayment.member_id == filters["member_id"])
    if filters.get("org_id") is not None:
        query = query.where(Member.org_id.in_(access.subtree_ids([access.get_org(filters["org_id"]).id])))
    if filters.get("month"):
        query = query.where(DuesPayment.month == filters["month"])
    query = query.order_by(DuesPayment.month.desc(), DuesPayment.id.desc())
    return list(db.session.scalars(query.limit(filters.get("limit") or 200).offset(filters.get("offset") or 0)))
