"""党费 payments through the HTTP API: who may record them, which earn the monthly 5 points, who sees them."""
from datetime import datetime, timedelta, timezone

import pytest

from rules import CHINA

from .helpers import assert_problem

NOTICE = "积分仅供参考，不作为评价党员的唯一依据"


def _this_month_start() -> datetime:
    now = datetime.now(CHINA)
    return datetime(now.year, now.month, 1, tzinfo=CHINA)


def _last_month() -> str:
    return (_this_month_start() - timedelta(days=1)).strftime("%Y-%m")


def pay(api, member_id, month, paid_at, channel="online", amount="20.00", status=201):
    body = {"member_id": member_id, "month": month, "channel": channel, "paid_at": paid_at, "amount": amount}
    return api.ok("post", "/api/dues-payments", body, status)


def total(api, member_id, month):
    return api.ok("get", f"/api/scores/members/{member_id}?period={month}")["total"]


def test_online_within_the_china_month_earns_5_once(world):
    admin, m = world.admin, world.ids["members_a"][1]
    month = _last_month()
    last_evening = (_this_month_start() - timedelta(minutes=30)).isoformat()  # 23:30 China, its last day
    first = pay(admin, m, month, last_evening)
    assert (first["points"], first["notice"], first["amount"], first["channel"]) == (5, NOTICE, "20.00", "online")
    assert pay(admin, m, month, last_evening, amount="1.00")["points"] == 0  # 5 a month, not per payment
    entries = admin.ok("get", f"/api/scores/members/{m}?period={month}")["entries"]
    assert [(e["rule_id"], e["points"], e["source"], e["source_id"], e["category"]) for e in entries] == [
        ("sanjin.dues", 5, "dues", str(first["id"]), "organizational_life")]


def test_back_payments_and_offline_payments_earn_nothing_but_are_recorded(world):
    admin, (m1, m2) = world.admin, world.ids["members_a"][1:3]
    month = _last_month()
    # 00:10 China on the 1st is still the previous day in UTC: paid after its month ended, in China time.
    late = pay(admin, m1, month, (_this_month_start() + timedelta(minutes=10)).isoformat())
    offline = pay(admin, m2, month, (_this_month_start() - timedelta(days=3)).isoformat(), channel="offline")
    assert (late["points"], offline["points"]) == (0, 0)
    current = datetime.now(CHINA).strftime("%Y-%m")
    assert pay(admin, m1, month, datetime.now(timezone.utc).isoformat())["points"] == 0  # back-payment
    assert pay(admin, m2, current, datetime.now(timezone.utc).isoformat(), channel="offline")["points"] == 0
    assert total(admin, m1, month) == 0 and total(admin, m2, current) == 0
    listed = admin.ok("get", f"/api/dues-payments?month={month}")
    assert sorted((p["member_id"], p["channel"]) for p in listed) == [(m1, "online"), (m1, "online"), (m2, "offline")]


def test_paying_ahead_for_next_month_earns_nothing(world):
    next_month = (_this_month_start() + timedelta(days=40)).strftime("%Y-%m")
    paid = pay(world.admin, world.ids["members_a"][1], next_month, datetime.now(timezone.utc).isoformat())
    assert paid["points"] == 0


def test_who_may_record_a_payment(world):
    m, now = world.ids["members_a"][1], datetime.now(timezone.utc).isoformat()
    month = datetime.now(CHINA).strftime("%Y-%m")
    by_branch = pay(world.users["sec_a"], m, month, now)
    assert by_branch["points"] == 5 and by_branch["recorded_by"] is not None
    pay(world.users["zongzhi"], m, month, now)  # a superior administers the branch too
    for name in ("sec_b", "m1"):
        body = {"member_id": m, "month": month, "channel": "online", "paid_at": now, "amount": "20.00"}
        assert_problem(world.users[name].post("/api/dues-payments", json=body), 403, "forbidden")
    token = world.admin.ok("post", "/api/integration-tokens", {"name": "党费系统"}, 201)["token"]
    system = type(world.admin)(world.admin.client, token)
    from_system = pay(system, world.ids["member_b"], month, now)
    assert (from_system["points"], from_system["recorded_by"]) == (5, None)
    assert_problem(system.get("/api/dues-payments"), 403, "forbidden")


@pytest.mark.parametrize("change,code,status", [
    ({"month": "2026-13"}, "validation_error", 422), ({"month": "2026-1"}, "validation_error", 422),
    ({"channel": "cash"}, "validation_error", 422), ({"amount": "0"}, "validation_error", 422),
    ({"amount": "-5"}, "validation_error", 422), ({"paid_at": "not a time"}, "validation_error", 422),
    ({"member_id": 999999}, "member_not_found", 404),
    ({"paid_at": (datetime.now(timezone.utc) + timedelta(days=2)).isoformat()}, "paid_in_future", 422),
])
def test_bad_payments(world, change, code, status):
    body = {"member_id": world.ids["members_a"][1], "month": "2026-11", "channel": "online",
            "paid_at": datetime.now(timezone.utc).isoformat(), "amount": "20.00", **change}
    assert_problem(world.admin.post("/api/dues-payments", json=body), status, code)
    assert world.admin.ok("get", "/api/dues-payments") == []


def test_who_sees_which_payments(world):
    a1, a2, b = world.ids["members_a"][1], world.ids["members_a"][2], world.ids["member_b"]
    month, now = _last_month(), (_this_month_start() - timedelta(days=1)).isoformat()
    for member in (a1, a2, b):
        pay(world.admin, member, month, now)

    def members(user, query=""):
        return sorted(p["member_id"] for p in world.users[user].ok("get", f"/api/dues-payments{query}"))

    assert members("sec_a") == [a1, a2] and members("zongzhi") == [a1, a2] and members("dangwei") == [a1, a2, b]
    assert members("sec_b") == [b] and members("m1") == [a1]
    assert members("dangwei", f"?org_id={world.ids['branch_b']}") == [b]
    assert members("dangwei", f"?member_id={a2}") == [a2]
    assert members("sec_a", f"?org_id={world.ids['branch_b']}") == []
    assert members("sec_a", "?month=2000-01") == []
    assert_problem(world.admin.get("/api/dues-payments?month=jan"), 422, "validation_error")
