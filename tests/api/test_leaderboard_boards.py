"""One stored leaderboard per (org, kind, period): two first requests at once keep one board."""
import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from service.database import transaction, utcnow
from service.extensions import db
from service.models import Leaderboard
from service.services import leaderboards, rollups


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
