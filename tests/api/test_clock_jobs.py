"""The clock's reminder jobs: overdue tasks and meetings starting soon, each notice sent once even with two clocks."""
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select, update

from rules.periods import CHINA
from service import scheduler
from service.database import transaction
from service.extensions import db
from service.models import HumanTask, Notification

from .conftest import PW


def _at(hours: float) -> datetime:
    return datetime.now(timezone.utc) + timedelta(hours=hours)


def _meeting(world, title: str, hours: float, notify: bool = True, location: str | None = None) -> dict:
    """A 支部党员大会 `hours` from now; `notify` completes its notice task (the notice goes out)."""
    sec = world.users["sec_a"]
    meeting = sec.ok("post", "/api/meetings", {"process_key": "branch_congress", "org_id": world.ids["branch_a"],
                                               "title": title, "scheduled_at": _at(hours).isoformat(),
                                               "location": location}, 201)
    if notify:
        sec.ok("post", f"/api/tasks/{meeting['open_tasks'][0]['id']}/complete", {})
    return meeting


def _set_due(app, task_id: int, due_at) -> None:
    with app.app_context(), transaction():
        db.session.execute(update(HumanTask).where(HumanTask.id == task_id).values(due_at=due_at))


def _second_admin(world):
    """Another org_admin of branch A, so that 'every admin' and 'only the assignee' differ."""
    world.admin.ok("post", "/api/users", {"username": "sec_a2", "password": PW, "member_id": None,
                                          "roles": [{"role": "org_admin", "org_id": world.ids["branch_a"]}]}, 201)
    api = world.admin.as_user("sec_a2", PW)
    api.ok("post", "/api/auth/password", {"old_password": PW, "new_password": PW + "2"}, 204)
    return api


def _notices(api, kind: str) -> list[dict]:
    return [n for n in api.ok("get", "/api/notifications?limit=500") if n["kind"] == kind]


def _count(app, kind: str, subject_id: int) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Notification).where(
            Notification.kind == kind, Notification.subject_id == subject_id))


def _overdue_world(world, clean_app):
    """Three notice tasks of branch A: one overdue, one overdue and claimed by sec_a2, one due tomorrow."""
    sec2 = _second_admin(world)
    late, claimed, later = (_meeting(world, title, 72, notify=False) for title in ("甲会", "乙会", "丙会"))
    task_ids = [m["open_tasks"][0]["id"] for m in (late, claimed, later)]
    sec2.ok("post", f"/api/tasks/{task_ids[1]}/claim")
    hour_ago = _at(-1)
    _set_due(clean_app, task_ids[0], hour_ago)
    _set_due(clean_app, task_ids[1], hour_ago)
    _set_due(clean_app, task_ids[2], _at(24))
    return sec2, task_ids, hour_ago


def _overdue_marks(app, task_ids) -> list:
    with app.app_context():
        return [db.session.get(HumanTask, i).overdue_notified_at for i in task_ids]


def test_an_overdue_task_is_reported_once_to_its_admins_or_its_assignee(world, clean_app):
    sec = world.users["sec_a"]
    sec2, (late, claimed, later), hour_ago = _overdue_world(world, clean_app)
    with clean_app.app_context():
        assert scheduler.mark_overdue_tasks() == 2
        assert scheduler.mark_overdue_tasks() == 0  # marked: nothing new, nothing sent again
    marks = _overdue_marks(clean_app, (late, claimed, later))
    assert marks[0] and marks[1] and marks[2] is None  # the task not yet due is untouched
    [notice] = _notices(sec, "task_overdue")  # the unclaimed one waits for every admin of branch A
    assert notice["title"].startswith("任务已逾期：") and notice["read_at"] is None
    assert hour_ago.astimezone(CHINA).strftime("%Y-%m-%d %H:%M") in notice["body"]
    with clean_app.app_context():
        late_task = db.session.get(HumanTask, late)
        assert notice["subject"] == {"kind": late_task.subject_kind, "id": late_task.subject_id}
    seen_by_sec2 = sorted(n["subject"]["id"] for n in _notices(sec2, "task_overdue"))
    with clean_app.app_context():  # sec_a2 administers branch A and holds the claimed one
        assert seen_by_sec2 == sorted(db.session.get(HumanTask, i).subject_id for i in (late, claimed))
    assert _notices(world.users["zongzhi"], "task_overdue") == []  # the superior is not one the task waits for


def test_a_task_that_becomes_due_later_is_reported_on_a_later_tick(world, clean_app):
    _, (late, claimed, later), _ = _overdue_world(world, clean_app)
    with clean_app.app_context():
        assert scheduler.mark_overdue_tasks() == 2
    _set_due(clean_app, later, _at(-0.1))
    with clean_app.app_context():
        assert scheduler.mark_overdue_tasks() == 1
        assert scheduler.mark_overdue_tasks() == 0
    assert len(_notices(world.users["sec_a"], "task_overdue")) == 2


def test_a_meeting_soon_is_reminded_once_to_invitees_who_did_not_decline(world, clean_app):
    soon = _meeting(world, "两小时后", 2, location="三楼会议室")
    far = _meeting(world, "三天后", 72)
    unnotified = _meeting(world, "未通知", 1, notify=False)
    world.users["m1"].ok("post", f"/api/meetings/{soon['id']}/feedback", {"attend": False}, 200)
    world.users["m2"].ok("post", f"/api/meetings/{soon['id']}/feedback", {"attend": True}, 200)
    with clean_app.app_context():
        assert scheduler.send_meeting_reminders() == 1
        assert scheduler.send_meeting_reminders() == 0  # sent: nothing goes out twice
    for name in ("sec_a", "m2", "m3", "m5"):
        [reminder] = _notices(world.users[name], "meeting_reminder")
        assert reminder["title"] == "会议提醒：两小时后"
        assert reminder["subject"] == {"kind": "meeting", "id": soon["id"]}
        assert "三楼会议室" in reminder["body"]
        assert datetime.fromisoformat(soon["scheduled_at"]).astimezone(CHINA).strftime("%H:%M") in reminder["body"]
    assert _notices(world.users["m1"], "meeting_reminder") == []  # declined
    assert _count(clean_app, "meeting_reminder", soon["id"]) == len(world.ids["members_a"]) - 1
    assert _count(clean_app, "meeting_reminder", far["id"]) == 0
    assert _count(clean_app, "meeting_reminder", unnotified["id"]) == 0
    assert world.users["m3"].ok("get", "/api/notifications/unread-count")["unread"] == 3  # 2 notices + 1 reminder


def test_a_cancelled_meeting_gets_no_reminder(world, clean_app):
    meeting = _meeting(world, "取消的会", 2)
    world.users["sec_a"].ok("post", f"/api/meetings/{meeting['id']}/cancel", {"reason": "改期"})
    with clean_app.app_context():
        assert scheduler.send_meeting_reminders() == 0
    assert _count(clean_app, "meeting_reminder", meeting["id"]) == 0


def test_jobs_skip_while_another_clock_holds_their_lease(world, clean_app, monkeypatch):
    _overdue_world(world, clean_app)
    meeting = _meeting(world, "两小时后", 2)
    with clean_app.app_context():
        monkeypatch.setattr(scheduler, "HOLDER", "other-host:1")
        assert scheduler.acquire("mark_overdue_tasks", 60) and scheduler.acquire("send_meeting_reminders", 60)
        monkeypatch.setattr(scheduler, "HOLDER", "this-host:2")
        assert scheduler.mark_overdue_tasks() is None
        assert scheduler.send_meeting_reminders() is None
        assert db.session.scalar(select(func.count()).select_from(Notification).where(
            Notification.kind.in_(("task_overdue", "meeting_reminder")))) == 0
    assert _count(clean_app, "meeting_reminder", meeting["id"]) == 0


def _race(app, monkeypatch, job) -> list:
    """Two clocks that both believe they hold the lease and have both read the same rows, then claim them."""
    monkeypatch.setattr(scheduler, "acquire", lambda name, lease_seconds: True)
    barrier, read_ids = threading.Barrier(2), scheduler._ids

    def ids_then_wait(model, conditions):
        ids = list(read_ids(model, conditions))
        barrier.wait(timeout=30)  # neither clock claims anything before both have seen every row
        return ids

    monkeypatch.setattr(scheduler, "_ids", ids_then_wait)

    def clock():
        with app.app_context():
            return job()

    with ThreadPoolExecutor(2) as pool:
        return [f.result(timeout=60) for f in [pool.submit(clock) for _ in range(2)]]


def test_two_clocks_racing_report_each_overdue_task_once(world, clean_app, monkeypatch):
    sec2, (late, claimed, later), _ = _overdue_world(world, clean_app)
    results = _race(clean_app, monkeypatch, scheduler.mark_overdue_tasks)
    assert sum(results) == 2  # between them the two clocks marked each task once
    assert len(_notices(world.users["sec_a"], "task_overdue")) == 1
    assert len(_notices(sec2, "task_overdue")) == 2
    with clean_app.app_context():
        rows = db.session.execute(select(Notification.user_id, Notification.subject_id, func.count()).where(
            Notification.kind == "task_overdue").group_by(Notification.user_id, Notification.subject_id)).all()
    assert len(rows) == 3 and all(n == 1 for *_, n in rows)


def test_two_clocks_racing_remind_each_invitee_once(world, clean_app, monkeypatch):
    first, second = _meeting(world, "第一场", 2), _meeting(world, "第二场", 3)
    results = _race(clean_app, monkeypatch, scheduler.send_meeting_reminders)
    assert sum(results) == 2
    for meeting in (first, second):
        assert _count(clean_app, "meeting_reminder", meeting["id"]) == len(world.ids["members_a"])
    for name in ("sec_a", "m1", "m2", "m3", "m5"):
        assert len(_notices(world.users[name], "meeting_reminder")) == 2


def test_a_failing_row_does_not_stop_the_others_and_is_tried_again(world, clean_app, monkeypatch):
    _, (late, claimed, later), _ = _overdue_world(world, clean_app)
    notify = scheduler._notify_overdue

    def broken_for_late(task):
        if task.id == late:
            raise RuntimeError("boom")
        notify(task)

    monkeypatch.setattr(scheduler, "_notify_overdue", broken_for_late)
    with clean_app.app_context():
        assert scheduler.mark_overdue_tasks() == 1
    assert _overdue_marks(clean_app, (late,)) == [None]  # rolled back with its notices
    monkeypatch.setattr(scheduler, "_notify_overdue", notify)
    with clean_app.app_context():
        assert scheduler.mark_overdue_tasks() == 1  # the next tick reports it
    assert len(_notices(world.users["sec_a"], "task_overdue")) == 1
