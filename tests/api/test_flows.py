"""流动党员: flow-out and flow-in registration, reports back, ending, and the clock's once-a-period reminder."""
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import func, select, update

from service import scheduler
from service.database import transaction
from service.extensions import db
from service.models import FlowReport, Member, MemberFlow, Notification, Org
from service.services import flows as flow_service

from .helpers import assert_problem


def _day(days: int) -> str:
    return (date.today() + timedelta(days=days)).isoformat()


def _flow_body(member_id, direction="out", from_days=-10, **extra) -> dict:
    return {"member_id": member_id, "direction": direction, "destination": "广东省深圳市某公司",
            "from_date": _day(from_days), "contact": "13800001111", **extra}


def _out(world, member_index=1, user="sec_a", **kw) -> dict:
    return world.users[user].ok("post", "/api/flows", _flow_body(world.ids["members_a"][member_index], **kw), 201)


def _in(world, member_index=2, **kw) -> dict:
    """A branch A member staying in branch B's area, registered by branch B."""
    body = _flow_body(world.ids["members_a"][member_index], direction="in", org_id=world.ids["branch_b"], **kw)
    return world.users["sec_b"].ok("post", "/api/flows", body, 201)


def _ids(rows) -> list[int]:
    return [r["id"] for r in rows]


def _notices(api, kind="flow_report_due") -> list[dict]:
    return [n for n in api.ok("get", "/api/notifications?limit=500") if n["kind"] == kind]


def _set(app, flow_id: int, **values) -> None:
    with app.app_context(), transaction():
        db.session.execute(update(MemberFlow).where(MemberFlow.id == flow_id).values(**values))


def _branch_c(world) -> dict:
    """A third branch under the 党委, with a member and an admin ('sec_c')."""
    admin = world.admin
    branch = admin.ok("post", "/api/orgs", {"name": "C支部", "kind": "branch", "parent_id": world.ids["committee"]},
                      201)["id"]
    member = admin.ok("post", "/api/members", {"name": "C党员", "phone": "13900000003", "org_id": branch,
                                               "category": "full", "joined_at": "2015-07-01"}, 201)["id"]
    admin.ok("post", "/api/users", {"username": "sec_c", "password": "Passw0rd!x", "member_id": None,
                                    "roles": [{"role": "org_admin", "org_id": branch}]}, 201)
    api = admin.as_user("sec_c", "Passw0rd!x")
    api.ok("post", "/api/auth/password", {"old_password": "Passw0rd!x", "new_password": "Passw0rd!x2"}, 204)
    world.users["sec_c"] = api
    world.ids.update(branch_c=branch, member_c=member)
    return world.ids


def _flows_of(app, member_id: int) -> list[MemberFlow]:
    with app.app_context():
        rows = list(db.session.scalars(select(MemberFlow).where(MemberFlow.member_id == member_id)
                                       .order_by(MemberFlow.id)))
        for row in rows:
            db.session.expunge(row)
        return rows


def _report_notes(app, flow_id: int) -> list[tuple[str, int | None]]:
    with app.app_context():
        return [(r.note, r.recorded_by) for r in db.session.scalars(
            select(FlowReport).where(FlowReport.flow_id == flow_id).order_by(FlowReport.id))]


def _retire(app, org_id: int) -> None:
    with app.app_context(), transaction():
        db.session.get(Org, org_id).retired_at = datetime.now(timezone.utc)


def _count(app, flow_id: int) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Notification).where(
            Notification.kind == "flow_report_due", Notification.subject_id == flow_id))


# --- registering -------------------------------------------------------------------------------------------------


def test_a_branch_registers_a_flow_out_of_its_member(world):
    flow = _out(world, to_date=_day(300))
    assert flow["direction"] == "out" and flow["org_id"] == world.ids["branch_a"] and flow["active"] is True
    assert flow["member_name"] == "乙" and flow["destination"] == "广东省深圳市某公司"
    assert flow["to_date"] == _day(300) and flow["last_reported_at"] is None and flow["ended_at"] is None
    for name in ("sec_a", "zongzhi", "dangwei"):  # the branch and its superiors
        assert _ids(world.users[name].ok("get", "/api/flows")) == [flow["id"]]
    assert _ids(world.users["zongzhi"].ok("get", f"/api/flows?org_id={world.ids['general']}")) == [flow["id"]]
    assert world.users["sec_b"].ok("get", "/api/flows") == []
    assert_problem(world.users["sec_b"].get(f"/api/flows?org_id={world.ids['branch_a']}"), 403, "forbidden")
    assert_problem(world.users["m1"].get("/api/flows"), 403, "forbidden")
    assert world.users["m1"].ok("get", f"/api/flows/{flow['id']}")["id"] == flow["id"]  # the member themself
    assert_problem(world.users["m2"].get(f"/api/flows/{flow['id']}"), 404, "flow_not_found")
    assert_problem(world.users["sec_b"].get(f"/api/flows/{flow['id']}"), 404, "flow_not_found")


def test_only_the_members_own_branch_registers_a_flow_out(world):
    member = world.ids["members_a"][1]
    assert_problem(world.users["sec_b"].post("/api/flows", _flow_body(member)), 404, "member_not_found")  # not theirs
    assert_problem(world.users["m1"].post("/api/flows", _flow_body(member)), 403, "forbidden")  # sees only themself
    body = assert_problem(world.users["sec_a"].post("/api/flows", _flow_body(member, org_id=world.ids["branch_b"])),
                          422, "invalid_org")
    assert "org_id" in body["errors"]
    assert _out(world, org_id=world.ids["branch_a"])["org_id"] == world.ids["branch_a"]
    assert_problem(world.users["sec_a"].post("/api/flows", _flow_body(9999)), 404, "member_not_found")


def test_a_host_branch_registers_a_flow_in_of_another_branchs_member(world):
    flow = _in(world)
    assert flow["direction"] == "in" and flow["org_id"] == world.ids["branch_b"]
    assert flow["member_name"] is None  # the host does not administer 丙's branch: no name (see below)
    assert _ids(world.users["sec_b"].ok("get", "/api/flows")) == [flow["id"]]
    assert world.users["sec_a"].ok("get", "/api/flows") == []  # registered by B, listed by B
    assert world.users["sec_a"].ok("get", f"/api/flows/{flow['id']}")["id"] == flow["id"]  # the home branch sees it
    member = world.ids["members_a"][2]
    sec_b = world.users["sec_b"]
    body = assert_problem(sec_b.post("/api/flows", _flow_body(member, direction="in")), 422, "validation_error")
    assert "org_id" in body["errors"]
    assert_problem(world.users["sec_a"].post("/api/flows", _flow_body(
        member, direction="in", org_id=world.ids["branch_a"])), 422, "same_branch")
    assert_problem(world.users["dangwei"].post("/api/flows", _flow_body(
        member, direction="in", org_id=world.ids["general"])), 422, "invalid_org")
    assert_problem(world.users["sec_a"].post("/api/flows", _flow_body(
        member, direction="in", org_id=world.ids["branch_b"])), 403, "forbidden")  # only the host registers
    assert _out(world, member_index=2)["direction"] == "out"  # out and in are separate records


def test_invalid_dates_deleted_members_and_a_second_active_flow_are_refused(world, clean_app):
    sec = world.users["sec_a"]
    member = world.ids["members_a"][1]
    body = assert_problem(sec.post("/api/flows", _flow_body(member, to_date=_day(-11))), 422, "invalid_dates")
    assert "to_date" in body["errors"]
    first = _out(world)
    body = assert_problem(sec.post("/api/flows", _flow_body(member)), 409, "flow_exists")
    assert body["flow_id"] == first["id"]
    sec.ok("post", f"/api/flows/{first['id']}/end", {})
    second = _out(world, to_date=_day(-1), from_days=-30)  # ended: a new one may start; this one is already over
    assert second["active"] is False
    assert _out(world)["active"] is True  # a flow past its to_date is not active either
    with clean_app.app_context(), transaction():
        db.session.get(Member, world.ids["members_a"][4]).deleted_at = datetime.now(timezone.utc)
    assert_problem(sec.post("/api/flows", _flow_body(world.ids["members_a"][4])), 422, "member_deleted")
    assert_problem(sec.post("/api/flows", {**_flow_body(member), "direction": "sideways"}), 422, "validation_error")


def test_filters_by_direction_and_activity(world):
    running, hosted = _out(world), _in(world)
    over = _out(world, member_index=3, from_days=-90, to_date=_day(-1))
    dangwei = world.users["dangwei"]
    assert _ids(dangwei.ok("get", "/api/flows")) == [running["id"], hosted["id"], over["id"]]
    assert _ids(dangwei.ok("get", "/api/flows?direction=in")) == [hosted["id"]]
    assert _ids(dangwei.ok("get", "/api/flows?active=true")) == [running["id"], hosted["id"]]
    assert _ids(dangwei.ok("get", "/api/flows?active=false")) == [over["id"]]
    assert _ids(dangwei.ok("get", f"/api/flows?org_id={world.ids['branch_b']}")) == [hosted["id"]]


# --- flow-in: who may register it, and what the host learns ------------------------------------------------------


def test_a_flow_in_is_unique_per_host_so_a_rogue_host_blocks_no_one(world):
    ids = _branch_c(world)
    member = ids["members_a"][2]
    rogue = _in(world)  # branch B claims to host 丙
    real = world.users["sec_c"].ok("post", "/api/flows", _flow_body(member, direction="in", org_id=ids["branch_c"]),
                                   201)
    assert real["org_id"] == ids["branch_c"] and real["id"] != rogue["id"]
    body = assert_problem(world.users["sec_b"].post("/api/flows", _flow_body(member, direction="in",
                                                                             org_id=ids["branch_b"])),
                          409, "flow_exists")
    assert body["flow_id"] == rogue["id"]  # a host is only ever told about its own flow
    body = assert_problem(world.users["sec_c"].post("/api/flows", _flow_body(member, direction="in",
                                                                             org_id=ids["branch_c"])),
                          409, "flow_exists")
    assert body["flow_id"] == real["id"]
    assert _out(world, member_index=2)["active"] is True  # the home branch's flow-out is another matter


def test_the_host_gets_no_name_of_a_member_it_cannot_see(world):
    flow = _in(world)  # 丙 of branch A, hosted by B
    sec_b = world.users["sec_b"]
    assert flow["member_name"] is None
    assert [f["member_name"] for f in sec_b.ok("get", "/api/flows")] == [None]
    assert sec_b.ok("get", f"/api/flows/{flow['id']}")["member_name"] is None
    for name in ("sec_a", "zongzhi", "dangwei", "m2"):  # the home branch, its superiors, the member themself
        assert world.users[name].ok("get", f"/api/flows/{flow['id']}")["member_name"] == "丙"
    assert world.users["dangwei"].ok("get", "/api/flows")[0]["member_name"] == "丙"
    assert world.admin.ok("get", "/api/flows")[0]["member_name"] == "丙"
    sec_b.ok("post", f"/api/flows/{flow['id']}/reports", {"note": "在B支部参加学习"}, 201)
    assert sec_b.ok("post", f"/api/flows/{flow['id']}/end", {})["member_name"] is None
    own = world.users["sec_b"].ok("post", "/api/flows", _flow_body(world.ids["member_b"]), 201)
    assert own["member_name"] == "B党员"  # B's own member: named


def test_the_home_branch_hears_of_a_flow_in(world):
    flow = _in(world)
    [notice] = _notices(world.users["sec_a"], "flow_in_registered")
    assert notice["subject"] == {"kind": "flow", "id": flow["id"]}
    assert "丙" in notice["title"] and "B支部" in notice["title"] and "B支部" in notice["body"]
    assert world.users["sec_a"].ok("get", f"/api/flows/{notice['subject']['id']}")["direction"] == "in"
    for name in ("sec_b", "zongzhi", "dangwei", "m2"):  # only the admins of the member's own branch
        assert _notices(world.users[name], "flow_in_registered") == []
    _out(world, member_index=3)
    assert len(_notices(world.users["sec_a"], "flow_in_registered")) == 1  # a flow-out tells no one


def test_rights_on_the_registering_branch_are_checked_before_anything_about_the_member(world, clean_app):
    ids = world.ids
    sec_b, sec_a = world.users["sec_b"], world.users["sec_a"]
    member = ids["members_a"][1]
    for body in (_flow_body(member), _flow_body(member, org_id=ids["branch_b"]),
                 _flow_body(member, org_id=ids["branch_a"]), _flow_body(9999)):
        problem = assert_problem(sec_b.post("/api/flows", body), 404, "member_not_found")  # same for all four
        assert "errors" not in problem and str(ids["branch_a"]) not in problem["detail"]
    problem = assert_problem(sec_a.post("/api/flows", _flow_body(member, org_id=ids["branch_b"])), 422, "invalid_org")
    assert str(ids["branch_a"]) not in str(problem)  # a wrong org_id is refused without naming the member's branch
    # A flow-in: the host is checked first, so a caller who does not administer it learns nothing of the member.
    for target in (member, 9999):
        assert_problem(sec_b.post("/api/flows", _flow_body(target, direction="in", org_id=ids["branch_a"])),
                       403, "forbidden")
    assert_problem(sec_b.post("/api/flows", _flow_body(member, direction="in", org_id=9999)), 404, "org_not_found")
    assert_problem(sec_b.post("/api/flows", _flow_body(9999, direction="in", org_id=ids["branch_b"])),
                   404, "member_not_found")
    with clean_app.app_context(), transaction():
        db.session.get(Member, ids["members_a"][4]).deleted_at = datetime.now(timezone.utc)
    deleted = _flow_body(ids["members_a"][4], direction="in", org_id=ids["branch_b"])
    assert_problem(sec_b.post("/api/flows", deleted), 404, "member_not_found")  # B can't see A's history library
    assert_problem(world.users["dangwei"].post("/api/flows", deleted), 422, "member_deleted")  # above both: told
    assert _notices(sec_a, "flow_in_registered") == []


def test_a_retired_branch_neither_hosts_nor_registers_flows(world, clean_app):
    _retire(clean_app, world.ids["branch_b"])
    body = assert_problem(world.users["dangwei"].post("/api/flows", _flow_body(
        world.ids["members_a"][2], direction="in", org_id=world.ids["branch_b"])), 422, "org_retired")
    assert "org_id" in body["errors"]
    assert_problem(world.users["sec_b"].post("/api/flows", _flow_body(world.ids["member_b"])), 422, "org_retired")
    _retire(clean_app, world.ids["branch_a"])
    assert_problem(world.users["sec_a"].post("/api/flows", _flow_body(world.ids["members_a"][1])), 422, "org_retired")
    with clean_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(MemberFlow)) == 0


# --- called by other services: a member moves on, a branch merges, a member is purged ------------------------------


def test_end_for_member_ends_every_open_flow_of_the_member_and_says_why(world, clean_app):
    member = world.ids["members_a"][2]
    over = _out(world, member_index=2, to_date=_day(-1), from_days=-30)  # past to_date, never ended
    out, hosted = _out(world, member_index=2), _in(world)
    other = _out(world, member_index=1)
    world.users["m2"].ok("post", f"/api/flows/{out['id']}/reports", {"note": "按时报告"}, 201)
    before = world.users["m2"].ok("get", f"/api/flows/{out['id']}")["last_reported_at"]
    with clean_app.app_context(), transaction():
        assert flow_service.end_for_member(member, "组织关系转接") == 3
    with clean_app.app_context(), transaction():
        assert flow_service.end_for_member(member, "组织关系转接") == 0  # nothing open any more
    assert all(f.ended_at is not None for f in _flows_of(clean_app, member))
    [(report, by), system] = _report_notes(clean_app, out["id"])
    assert report == "按时报告" and by is not None and system == ("流动结束：组织关系转接", None)
    assert _report_notes(clean_app, hosted["id"]) == [("流动结束：组织关系转接", None)]
    ended = world.users["m2"].ok("get", f"/api/flows/{out['id']}")
    assert ended["active"] is False and ended["last_reported_at"] == before  # the system's note is no report
    assert_problem(world.users["m2"].post(f"/api/flows/{over['id']}/reports", {"note": "x"}), 409, "flow_ended")
    assert world.users["sec_a"].ok("get", f"/api/flows/{other['id']}")["active"] is True  # another member's: kept


def test_end_for_member_commits_nothing_itself(world, clean_app):
    flow = _out(world)
    try:
        with clean_app.app_context(), transaction():
            assert flow_service.end_for_member(world.ids["members_a"][1], "删除") == 1
            raise RuntimeError("the caller fails later")
    except RuntimeError:
        pass
    assert world.users["sec_a"].ok("get", f"/api/flows/{flow['id']}")["ended_at"] is None
    assert _report_notes(clean_app, flow["id"]) == []


def test_rehome_gives_a_merged_branchs_flows_to_the_branch_it_went_into(world, clean_app):
    ids = _branch_c(world)
    sec_a, sec_b = world.users["sec_a"], world.users["sec_b"]
    b_out = sec_b.ok("post", "/api/flows", _flow_body(ids["member_b"]), 201)  # B's member away: moves to A
    b_hosts_a = _in(world, member_index=2)  # B hosts 丙 of A: after the merge A would host its own member
    b_hosts_c = sec_b.ok("post", "/api/flows", _flow_body(ids["member_c"], direction="in", org_id=ids["branch_b"]),
                         201)  # A hosts C党员 too: A's own flow-in is kept, B's is ended
    a_hosts_c = sec_a.ok("post", "/api/flows", _flow_body(ids["member_c"], direction="in", org_id=ids["branch_a"]),
                         201)
    a_hosts_b = sec_a.ok("post", "/api/flows", _flow_body(ids["member_b"], direction="in", org_id=ids["branch_a"]),
                         201)  # B's member hosted by A: pointless once B merged into A
    b_old = _in(world, member_index=3)
    sec_b.ok("post", f"/api/flows/{b_old['id']}/end", {})
    c_hosts_a = world.users["sec_c"].ok("post", "/api/flows", _flow_body(
        ids["members_a"][5], direction="in", org_id=ids["branch_c"]), 201)  # neither A's nor B's: untouched
    with clean_app.app_context(), transaction():
        assert flow_service.rehome(ids["branch_b"], ids["branch_a"]) == 4
    listed = {f["id"]: f for f in world.users["dangwei"].ok("get", f"/api/flows?org_id={ids['branch_a']}")}
    assert set(listed) == {b_out["id"], b_hosts_a["id"], b_hosts_c["id"], a_hosts_c["id"], a_hosts_b["id"],
                           b_old["id"]}
    assert world.users["dangwei"].ok("get", f"/api/flows?org_id={ids['branch_b']}") == []
    assert {i for i, f in listed.items() if f["active"]} == {b_out["id"], a_hosts_c["id"]}
    for flow_id in (b_hosts_a["id"], a_hosts_b["id"]):
        assert _report_notes(clean_app, flow_id) == [("流动结束：支部合并后，接收支部即本人所在支部", None)]
    assert _report_notes(clean_app, b_hosts_c["id"]) == [("流动结束：支部合并，接收支部已有该党员的流入登记", None)]
    assert _report_notes(clean_app, b_old["id"]) == []  # already ended: moved, nothing added
    sec_a.ok("post", f"/api/flows/{b_out['id']}/reports", {"note": "A支部接手跟进"}, 201)  # A now follows it up
    assert world.users["sec_c"].ok("get", f"/api/flows/{c_hosts_a['id']}")["org_id"] == ids["branch_c"]
    with clean_app.app_context(), transaction():
        assert flow_service.rehome(ids["branch_b"], ids["branch_a"]) == 0


def test_erase_personal_blanks_the_flows_of_a_purged_member(world, clean_app):
    member = world.ids["members_a"][1]
    first = _out(world)
    world.users["m1"].ok("post", f"/api/flows/{first['id']}/reports", {"note": "在深圳某公司工作"}, 201)
    world.users["sec_a"].ok("post", f"/api/flows/{first['id']}/end", {})
    second = _out(world)
    world.users["sec_a"].ok("post", f"/api/flows/{second['id']}/reports", {"note": "电话联系，家住某小区"}, 201)
    other = _out(world, member_index=3)
    with clean_app.app_context(), transaction():
        flow_service.erase_personal(member)
    for flow in _flows_of(clean_app, member):
        assert (flow.contact, flow.destination) == ("（已清除）", "（已清除）") and flow.ended_at is not None
    assert [n for n, _ in _report_notes(clean_app, first["id"])] == ["（已清除）"]  # ended before: no new note
    assert [n for n, _ in _report_notes(clean_app, second["id"])] == ["（已清除）", "流动结束：党员信息已清除"]
    kept = world.users["sec_a"].ok("get", f"/api/flows/{other['id']}")
    assert kept["contact"] == "13800001111" and kept["active"] is True


def test_a_purged_members_flows_carry_no_name(world, clean_app):
    flow = _out(world)
    with clean_app.app_context(), transaction():
        db.session.get(Member, world.ids["members_a"][1]).purged_at = datetime.now(timezone.utc)
    assert world.users["sec_a"].ok("get", f"/api/flows/{flow['id']}")["member_name"] is None
    assert world.admin.ok("get", "/api/flows")[0]["member_name"] is None


# --- reports and ending ------------------------------------------------------------------------------------------


def test_the_member_or_the_registering_branch_records_reports(world):
    flow = _out(world)
    m1, sec = world.users["m1"], world.users["sec_a"]
    own = m1.ok("post", f"/api/flows/{flow['id']}/reports", {"note": "在深圳工作，参加当地组织生活"}, 201)
    assert own["flow_id"] == flow["id"] and own["reported_at"] and own["recorded_by"]
    assert m1.ok("get", f"/api/flows/{flow['id']}")["last_reported_at"] == own["reported_at"]
    sec.ok("post", f"/api/flows/{flow['id']}/reports", {"note": "电话报告"}, 201)
    assert [r["note"] for r in m1.ok("get", f"/api/flows/{flow['id']}/reports")] == ["在深圳工作，参加当地组织生活",
                                                                                    "电话报告"]
    assert_problem(world.users["m2"].post(f"/api/flows/{flow['id']}/reports", {"note": "x"}), 404, "flow_not_found")
    assert_problem(m1.post(f"/api/flows/{flow['id']}/reports", {"note": "  "}), 422, "validation_error")
    hosted = _in(world)
    assert_problem(sec.post(f"/api/flows/{hosted['id']}/reports", {"note": "x"}), 403, "forbidden")  # not the host
    world.users["m2"].ok("post", f"/api/flows/{hosted['id']}/reports", {"note": "在B支部参加学习"}, 201)


def test_ending_a_flow_once(world):
    flow = _out(world)
    assert_problem(world.users["m1"].post(f"/api/flows/{flow['id']}/end", {}), 403, "forbidden")
    ended = world.users["sec_a"].ok("post", f"/api/flows/{flow['id']}/end", {})
    assert ended["ended_at"] and ended["active"] is False
    assert_problem(world.users["sec_a"].post(f"/api/flows/{flow['id']}/end", {}), 409, "flow_ended")
    assert_problem(world.users["m1"].post(f"/api/flows/{flow['id']}/reports", {"note": "x"}), 409, "flow_ended")
    assert len(world.users["m1"].ok("get", f"/api/flows/{flow['id']}/reports")) == 0


# --- the clock -----------------------------------------------------------------------------------------------------


def _clock_world(world, clean_app) -> dict:
    """Flows of every kind; only `due` (out, a year without a report) and `hosted` (in) are due."""
    flows = {"due": _out(world, member_index=1, from_days=-400),
             "hosted": _in(world, member_index=2, from_days=-366),
             "reported": _out(world, member_index=3, from_days=-400),
             "recent": _out(world, member_index=5, from_days=-100),
             "over": _out(world, member_index=2, from_days=-400, to_date=_day(-1)),
             "ended": _out(world, member_index=4, from_days=-400)}
    world.users["m3"].ok("post", f"/api/flows/{flows['reported']['id']}/reports", {"note": "按时报告"}, 201)
    world.users["sec_a"].ok("post", f"/api/flows/{flows['ended']['id']}/end", {})
    return flows


def test_a_silent_flow_is_reminded_once_to_the_member_and_the_registering_admins(world, clean_app):
    flows = _clock_world(world, clean_app)
    with clean_app.app_context():
        assert scheduler.remind_flow_reports() == 2
        assert scheduler.remind_flow_reports() == 0  # reminded: nothing goes out twice
    [to_member] = _notices(world.users["m1"])
    assert to_member["subject"] == {"kind": "flow", "id": flows["due"]["id"]} and "尚未报告" in to_member["body"]
    [to_admin] = _notices(world.users["sec_a"])
    assert to_admin["title"] == "流动党员待报告：乙" and to_admin["subject"]["id"] == flows["due"]["id"]
    [hosted] = _notices(world.users["sec_b"])  # a flow-in: the host branch registered it and follows it up
    assert hosted["subject"]["id"] == flows["hosted"]["id"]
    assert len(_notices(world.users["m2"])) == 1  # 丙, hosted in branch B
    assert _notices(world.users["zongzhi"]) == [] and _notices(world.users["m3"]) == []
    for name in ("reported", "recent", "over", "ended"):
        assert _count(clean_app, flows[name]["id"]) == 0
    assert world.users["sec_a"].ok("get", f"/api/flows/{flows['due']['id']}")["report_reminded_at"]


def test_a_report_re_arms_the_reminder_for_the_next_period(world, clean_app):
    flows = _clock_world(world, clean_app)
    due = flows["due"]["id"]
    with clean_app.app_context():
        assert scheduler.remind_flow_reports() == 2
    world.users["m1"].ok("post", f"/api/flows/{due}/reports", {"note": "补报"}, 201)
    assert world.users["m1"].ok("get", f"/api/flows/{due}")["report_reminded_at"] is None
    with clean_app.app_context():
        assert scheduler.remind_flow_reports() == 0  # just reported
    a_year_ago = datetime.now(timezone.utc) - timedelta(days=366)
    _set(clean_app, due, last_reported_at=a_year_ago)
    with clean_app.app_context():
        assert scheduler.remind_flow_reports() == 1  # silent a year since the report: reminded again, once
        assert scheduler.remind_flow_reports() == 0
    assert _count(clean_app, due) == 4  # (member + branch A's admin) x 2
    assert "上次报告为" in _notices(world.users["m1"])[0]["body"]


def test_the_period_is_a_setting_and_deleted_members_are_not_reminded(world, clean_app, monkeypatch):
    flows = _clock_world(world, clean_app)
    with clean_app.app_context(), transaction():
        db.session.get(Member, world.ids["members_a"][1]).deleted_at = datetime.now(timezone.utc)
    monkeypatch.setitem(clean_app.config, "FLOW_REPORT_DAYS", 90)
    with clean_app.app_context():
        assert scheduler.remind_flow_reports() == 2  # hosted, and recent (100 days) under a 90-day period
    assert _count(clean_app, flows["recent"]["id"]) == 2 and _count(clean_app, flows["due"]["id"]) == 0


def test_the_job_skips_while_another_clock_holds_its_lease(world, clean_app, monkeypatch):
    _clock_world(world, clean_app)
    with clean_app.app_context():
        monkeypatch.setattr(scheduler, "HOLDER", "other-host:1")
        assert scheduler.acquire("remind_flow_reports", 60)
        monkeypatch.setattr(scheduler, "HOLDER", "this-host:2")
        assert scheduler.remind_flow_reports() is None
        assert db.session.scalar(select(func.count()).select_from(Notification).where(
            Notification.kind == "flow_report_due")) == 0


def test_two_clocks_racing_remind_each_flow_once(world, clean_app, monkeypatch):
    flows = _clock_world(world, clean_app)
    monkeypatch.setattr(scheduler, "acquire", lambda name, lease_seconds: True)  # the lease forced open
    barrier, read_ids = threading.Barrier(2), scheduler._ids

    def ids_then_wait(model, conditions):
        ids = list(read_ids(model, conditions))
        barrier.wait(timeout=30)  # neither clock claims anything before both have seen every row
        return ids

    monkeypatch.setattr(scheduler, "_ids", ids_then_wait)

    def clock():
        with clean_app.app_context():
            return scheduler.remind_flow_reports()

    with ThreadPoolExecutor(2) as pool:
        results = [f.result(timeout=60) for f in [pool.submit(clock) for _ in range(2)]]
    assert sum(results) == 2
    assert _count(clean_app, flows["due"]["id"]) == 2 and _count(clean_app, flows["hosted"]["id"]) == 2
    assert len(_notices(world.users["sec_a"])) == 1 and len(_notices(world.users["m1"])) == 1
