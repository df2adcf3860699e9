"""Cap and compliance periods, always computed in China time (Asia/Shanghai)."""
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

CHINA = ZoneInfo("Asia/Shanghai")
PERIODS = ("day", "week", "month", "quarter", "year")
_PATTERNS = [("day", re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")), ("week", re.compile(r"^(\d{4})-W(\d{2})$")),
             ("quarter", re.compile(r"^(\d{4})-Q([1-4])$")), ("month", re.compile(r"^(\d{4})-(\d{2})$")),
             ("year", re.compile(r"^(\d{4})$"))]


def period_key(at: datetime, period: str) -> str:
    """The label of the period containing an aware instant, e.g. '2026-11-18', '2026-W47', '2026-Q4'."""
    if at.tzinfo is None:
        raise ValueError("period_key needs an aware datetime")
    local = at.astimezone(CHINA)
    if period == "day":
        return local.strftime("%Y-%m-%d")
    if period == "week":
        year, week, _ = local.isocalendar()
        return f"{year}-W{week:02d}"
    if period == "month":
        return local.strftime("%Y-%m")
    if period == "quarter":
        return f"{local.year}-Q{(local.month - 1) // 3 + 1}"
    if period == "year":
        return str(local.year)
    raise ValueError(f"unknown period {period!r}; one of {PERIODS}")


def parse_period(label: str) -> str:
    """Which kind of period a label names; ValueError for anything else."""
    for kind, pattern in _PATTERNS:
        if pattern.fullmatch(label):
            period_bounds(label, kind)  # also rejects 2026-13 and 2026-02-30
            return kind
    raise ValueError(f"not a period: {label!r} (use 2026-11-18, 2026-W47, 2026-11, 2026-Q4 or 2026)")


def period_bounds(label: str, kind: str) -> tuple[datetime, datetime]:
    """[start, end) of a period in China time, as aware datetimes."""
    numbers = [int(x) for x in dict(_PATTERNS)[kind].fullmatch(label).groups()]
    if kind == "day":
        start = datetime(*numbers, tzinfo=CHINA)
        return start, start + timedelta(days=1)
    if kind == "week":
        start = datetime.fromisocalendar(numbers[0], numbers[1], 1).replace(tzinfo=CHINA)
        return start, start + timedelta(weeks=1)
    first_month = {"month": lambda: numbers[1], "quarter": lambda: 3 * numbers[1] - 2, "year": lambda: 1}[kind]()
    months = {"month": 1, "quarter": 3, "year": 12}[kind]
    start = datetime(numbers[0], first_month, 1, tzinfo=CHINA)
    end_month = first_month + months
    end = datetime(numbers[0] + (end_month - 1) // 12, (end_month - 1) % 12 + 1, 1, tzinfo=CHINA)
    return start, end
