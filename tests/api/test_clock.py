"""The clock's job lease: two clock processes never run one job at the same time."""
from service import scheduler


def test_lease_is_exclusive_until_released_or_expired(clean_app, monkeypatch):
    with clean_app.app_context():
        assert scheduler.acquire("nightly", 60) is True
        monkeypatch.setattr(scheduler, "HOLDER", "other-host:1")
        assert scheduler.acquire("nightly", 60) is False  # the first clock still holds it
        monkeypatch.setattr(scheduler, "HOLDER", scheduler.HOLDER)
    with clean_app.app_context():
        monkeypatch.undo()
        scheduler.release("nightly")
        monkeypatch.setattr(scheduler, "HOLDER", "other-host:1")
        assert scheduler.acquire("nightly", 0) is True   # released: the second clock may take it
        monkeypatch.setattr(scheduler, "HOLDER", "third-host:1")
        assert scheduler.acquire("nightly", 60) is True  # a lease of 0 s has already lapsed


def test_fire_due_timers_skips_when_another_clock_holds_the_job(clean_app, monkeypatch):
    with clean_app.app_context():
        monkeypatch.setattr(scheduler, "HOLDER", "other-host:1")
        assert scheduler.acquire("fire_due_timers", 60)
        monkeypatch.setattr(scheduler, "HOLDER", "this-host:2")
        assert scheduler.fire_due_timers() is None  # skipped, not run
        monkeypatch.setattr(scheduler, "HOLDER", "other-host:1")
        scheduler.release("fire_due_timers")
        monkeypatch.setattr(scheduler, "HOLDER", "this-host:2")
        assert scheduler.fire_due_timers() == 0  # ran: nothing waits on a timer
