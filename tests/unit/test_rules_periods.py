"""Periods are computed in China time whatever the server's zone."""
from datetime import datetime, timezone

import pytest

from rules import CHINA, parse_period, period_bounds, period_key


def test_day_boundary_is_china_midnight():
    before = datetime(2026, 11, 18, 15, 59, tzinfo=timezone.utc)  # 23:59 in Beijing
    after = datetime(2026, 11, 18, 16, 1, tzinfo=timezone.utc)    # 00:01 next day in Beijing
    assert period_key(before, "day") == "2026-11-18"
    assert period_key(after, "day") == "2026-11-19"


@pytest.mark.parametrize("period,label", [("week", "2026-W47"), ("month", "2026-11"), ("quarter", "2026-Q4"),
                                          ("year", "2026")])
def test_labels(period, label):
    assert period_key(datetime(2026, 11, 18, 4, 0, tzinfo=timezone.utc), period) == label


def test_new_year_in_china_before_utc():
    assert period_key(datetime(2026, 12, 31, 16, 30, tzinfo=timezone.utc), "quarter") == "2027-Q1"


def test_bounds_and_parsing():
    assert period_bounds("2026-Q4", "quarter") == (datetime(2026, 10, 1, tzinfo=CHINA), datetime(2027, 1, 1, tzinfo=CHINA))
    assert period_bounds("2026-12", "month")[1] == datetime(2027, 1, 1, tzinfo=CHINA)
    assert [parse_period(x) for x in ("2026-11-18", "2026-W47", "2026-11", "2026-Q4", "2026")] == [
        "day", "week", "month", "quarter", "year"]
    for bad in ("2026-13", "2026-02-30", "2026-Q5", "26", "2026/11"):
        with pytest.raises(ValueError):
            parse_period(bad)


def test_naive_datetime_refused():
    with pytest.raises(ValueError):
        period_key(datetime(2026, 1, 1), "day")
