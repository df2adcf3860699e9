"""One stored leaderboard per (org, kind, period): two first requests at once keep one board."""
import threading

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from service.database import transaction, utcnow
from service.extensions import db
from service.models import Leaderboard
from service.services import leaderboards, rollups


def rollups_stamp(at) -> str:
    """A stored time as the API shows it (China time, ISO)."""
    from rules import CHINA
    return at.astimezone(CHINA).isoformat()


def _count(app, org_id):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Leaderboard).where(Leaderboard.org_id == org_id))


def test_a_board_computed_by_a_racing_first_request_is_kept(world, clean_app, monkeypatch):
    w, branch = world, world.ids["branch_a"]
    period = "2026-11"
    # Another request stored this board after ours found none (we look once, before computing).
    with clean_app.app_context(), transaction():
        db.session.execute(insert(Leaderboard).values(org_id=branch, kind="member", period=period,
                                                      rows=[{"rank": 1, "member_id": 424242, "points": 7}],
                                                      computed_at=utcnow()))
    looked = []
    real = leaderboards._latest

    def first_look_finds_nothing(*args):
        looked.append(args)
        return None if len(looked) == 1 else real(*args)

    monkeypatch.setattr(leaderboards, "_latest", first_look_finds_nothing)
    body = w.users["sec_a"].ok("get", f"/api/leaderboards?org_id={branch}&kind=member&period={period}")
    assert [row["member_id"] for row in body["rows"]] == [424242]  # the stored board, not a second one
    assert _count(clean_app, branch) == 1


def test_the_database_refuses_a_second_board_for_the_same_key(world, clean_app):
    branch = world.ids["branch_a"]
    row = {"org_id": branch, "kind": "branch", "period": "2026", "rows": [], "computed_at": utcnow()}
    with clean_app.app_context():
        with transaction():
            db.session.execute(insert(Leaderboard).values(**row))
        with pytest.raises(IntegrityError), transaction():
            db.session.execute(insert(Leaderboard).values(**row))
    assert _count(clean_app, branch) == 1


def test_the_nightly_run_replaces_on_demand_boards(world, clean_app):
    w, branch = world, world.ids["branch_a"]
    month = rollups.current_month()
    w.users["sec_a"].ok("get", f"/api/leaderboards?org_id={branch}&kind=member")
    with clean_app.app_context():
        leaderboards.snapshot_boards()
        boards = db.session.execute(select(Leaderboard.kind, Leaderboard.period).where(
            Leaderboard.org_id == branch, Leaderboard.period == month)).all()
    assert boards.count(("member", month)) == 1


def test_a_first_request_during_the_nightly_run_waits_for_it(world, clean_app, monkeypatch):
    """Postgres: the nightly run deletes the period's boards, then computes for a while; a first request for a
    board arriving then stores nothing until the run commits (it would have failed the run on the unique key)."""
    from .test_scoring_ingest_fast import _postgres, _wait_for_a_lock_wait
    if not _postgres(clean_app):
        pytest.skip("SQLite serialises writers (BEGIN IMMEDIATE): the request cannot write during the run")
    deleted, go, results = threading.Event(), threading.Event(), {}
    real = leaderboards.compute_boards

    def slow_boards(*args, **kwargs):
        deleted.set()  # the run has deleted the period's boards and asks for the first batch
        go.wait(30)
        yield from real(*args, **kwargs)

    monkeypatch.setattr(leaderboards, "compute_boards", slow_boards)

    def nightly():
        with clean_app.app_context():
            try:
                results["nightly"] = leaderboards.snapshot_boards()
            except Exception as error:  # noqa: BLE001 - the test reports it
                results["nightly"] = error

    def first_request():
        monkeypatch.setattr(leaderboards, "compute_boards", real)  # the request computes at once
        results["request"] = world.users["sec_a"].get(f"/api/leaderboards?org_id={world.ids['branch_a']}&kind=member")

    run = threading.Thread(target=nightly)
    run.start()
    assert deleted.wait(30)
    request = threading.Thread(target=first_request)
    request.start()
    _wait_for_a_lock_wait(clean_app)
    go.set()
    run.join(60)
    request.join(60)
    assert isinstance(results["nightly"], int) and results["nightly"] > 0, results["nightly"]
    assert results["request"].status_code == 200
    with clean_app.app_context():
        month = rollups.current_month()
        stamps = db.session.scalars(select(Leaderboard.computed_at).where(
            Leaderboard.org_id == world.ids["branch_a"], Leaderboard.kind == "member", Leaderboard.period == month)).all()
    assert len(stamps) == 1  # the nightly board, which the request then served
    assert results["request"].get_json()["computed_at"] == rollups_stamp(stamps[0])


def test_nightly_boards_built_a_few_at_a_time_are_the_same_boards(world, clean_app, monkeypatch):
    def stored():
        with clean_app.app_context():
            return sorted((b.org_id, b.kind, b.period, str(b.rows)) for b in db.session.scalars(select(Leaderboard)))

    with clean_app.app_context():
        written = leaderboards.snapshot_boards()
    whole = stored()
    monkeypatch.setattr(leaderboards, "BOARDS_PER_BATCH", 1)
    with clean_app.app_context():
        assert leaderboards.snapshot_boards() == written
    assert stored() == whole and len(whole) == written > 1
