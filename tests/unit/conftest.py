"""Shared fixtures for the workflows unit tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from workflows import Engine

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
CONGRESS = ROOT / "bpmn" / "branch_congress.bpmn"
ACTIONS = frozenset({
    "meeting.notify", "meeting.close_feedback", "meeting.close_check_in", "meeting.record_minutes",
    "meeting.reschedule", "meeting.cancel", "review.submit", "review.decide",
    "review.acknowledge", "review.confirm", "meeting.summarize",
    "appraisal.close_self", "appraisal.close_peer", "appraisal.rate",
    "transfer.approve", "transfer.receive", "transfer.issue_letter", "transfer.record_receipt",
    "transfer.handle_expiry",
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
