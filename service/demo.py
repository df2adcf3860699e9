"""A demo organisation: 示范党委 > 机关党总支 > 第一党支部 (two groups) and 第二党支部 directly under the 党委."""
from datetime import date, timedelta

from sqlalchemy import select

from .auth import hash_password
from .extensions import db
from rules.periods import CHINA

from .database import utcnow
from .models import Meeting, Member, Org, RoleGrant, Transfer, User
from .services import membership

PASSWORD = "Demo#2026"
BRANCH_ONE = [  # name, category, committee role, group index, smartphone_exempt
    ("张书记", "full", "secretary", 0, False), ("李副书记", "full", "deputy_secretary", 0, False),
    ("王委员", "full", "committee_member", 1, False), ("赵党员", "full", None, 0, False),
    ("钱党员", "full", None, 1, False), ("孙老党员", "full", None, 1, True),
    ("周预备", "probationary", None, 0, False), ("吴预备", "probationary", None, 1, False),
]


def _org(name, kind, parent):
    org = db.session.scalars(select(Org).where(Org.name == name, Org.kind == kind)).first()
    if org is None:
        org = Org(name=name, kind=kind, parent_id=parent.id if parent else None)
        db.session.add(org)
        db.session.flush()
    return org


def _user(username, grants, member=None):
    if db.session.scalars(select(User).where(User.username == username)).first() is None:
        user = User(username=username, password_hash=hash_password(PASSWORD), must_change_password=False,
                    failed_logins=0, member_id=member.id if member else None)
        user.grants = [RoleGrant(role=r, org_id=o.id) for r, o in grants]
        db.session.add(user)


def _members(branch, groups, rows, phone_base):
    members = []
    for i, (name, category, role, group, exempt) in enumerate(rows):
        phone = f"{phone_base + i}"
        member = db.session.scalars(select(Member).where(Member.phone == phone)).first()
        if member is None:
            member = Member(name=name, phone=phone, org_id=branch.id, group_id=groups[group].id, category=category,
                            joined_at=date(2010 + i, 7, 1), committee_role=role, smartphone_exempt=exempt)
            db.session.add(member)
            db.session.flush()
            membership.open_period(member, "registered")
        members.append(member)
    return members


def _meetings(branch, group) -> None:
    """A few upcoming meetings of 第一党支部, so the inboxes and notices have something in them."""
    from .services import meetings, runtime
    if db.session.scalars(select(Meeting.id).where(Meeting.org_id.in_([branch.id, group.id]))).first():
        return
    organiser = db.session.scalars(select(User).where(User.username == "zhibu1")).unique().one()
    now = utcnow().astimezone(CHINA).replace(hour=15, minute=0, second=0, microsecond=0)
    plans = [("theme_day", branch, "主题党日：重温入党誓词", 7, True), ("committee_meeting", branch, "支部委员会：研究发展党员工作", 3, False),
             ("group_meeting", group, "第一党小组学习会", 5, True), ("party_class", branch, "书记讲党课", 10, False)]
    for key, org, title, days, notify in plans:
        meeting = meetings.create_meeting(organiser, {"process_key": key, "org_id": org.id, "title": title,
                                                      "scheduled_at": now + timedelta(days=days), "location": "党员活动室"})
        if notify:
            runtime.complete(runtime.open_tasks(meeting.instance_id)[0], organiser, {})


def _transfer(member, two) -> None:
    """A transfer waiting in 机关党总支's inbox, so the superior has something to approve."""
    from .services import transfers
    if db.session.scalars(select(Transfer.id).where(Transfer.member_id == member.id)).first():
        return
    organiser = db.session.scalars(select(User).where(User.username == "zhibu1")).unique().one()
    transfers.create_transfer(organiser, {"kind": "in_system", "member_id": member.id, "to_org_id": two.id,
                                          "reason": "工作调动到第二党支部所在单位"})


def load_demo() -> list[tuple[str, str, str]]:
    """Create the demo tree and accounts if absent; return the logins to print."""
    committee = _org("示范党委", "committee", None)
    general = _org("机关党总支", "general_branch", committee)
    one = _org("第一党支部", "branch", general)
    two = _org("第二党支部", "branch", committee)
    groups = [_org("第一党小组", "group", one), _org("第二党小组", "group", one)]
    members = _members(one, groups, BRANCH_ONE, 13800000001)
    _members(two, [_org("第三党小组", "group", two)], [("郑书记", "full", "secretary", 0, False),
                                                     ("冯党员", "full", None, 0, False)], 13900000001)
    _user("dangwei", [("org_admin", committee)])
    _user("zongzhi", [("org_admin", general)])
    _user("zhibu1", [("org_admin", one), ("member", one)], members[0])
    _user("zhibu2", [("org_admin", two)])
    for i, member in enumerate(members[1:5], start=1):
        _user(f"member{i}", [("member", one)], member)
    _meetings(one, groups[0])
    _transfer(members[-1], two)
    return [("admin", "(init)", "platform admin"),
            ("dangwei", PASSWORD, "示范党委 admin (reviews 第二党支部)"),
            ("zongzhi", PASSWORD, "机关党总支 admin (reviews 第一党支部; a transfer of 吴预备 awaits approval)"),
            ("zhibu1", PASSWORD, "第一党支部 secretary 张书记 (organiser)"),
            ("zhibu2", PASSWORD, "第二党支部 admin"),
            ("member1..4", PASSWORD, "第一党支部 members 李副书记, 王委员, 赵党员, 钱党员")]
