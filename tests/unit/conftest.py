"""Shared fixtures for the workflows unit tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The editable install may predate the package; make the repo importable regardless.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from workflows import Engine  # noqa: E402

DATA = ROOT / "tests" / "data"
CONGRESS = ROOT / "bpmn" / "branch_congress.bpmn"
ACTIONS = frozenset({
    "meeting.notify", "meeting.close_feedback", "meeting.close_check_in", "meeting.record_minutes",
    "meeting.reschedule", "meeting.cancel", "review.submit", "review.decide",
    "review.acknowledge", "review.confirm",
})


@pytest.fixture
def engine() -> Engine:
    """A fresh engine knowing the service's actions."""
    return Engine(actions=ACTIONS)


@pytest.fixture
def congress_xml() -> bytes:
    """The 支部党员大会 definition."""
    return CONGRESS.read_bytes()


@pytest.fixture
def data_file():
    """Reader for files under tests/data."""
    return lambda name: (DATA / name).read_bytes()
