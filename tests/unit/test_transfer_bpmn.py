"""member_transfer and org_transfer driven through the engine, state saved and reloaded between steps."""
import pytest

from .test_meeting_types import Driver, iso_in

SA, SEND, RECV = "superior_admin", "sending_admin", "receiving_admin"


def _approve(driver, steps_left, approved=True):
    return driver.do("approve", {"approved": approved, "steps_left": steps_left})


@pytest.mark.parametrize("depth", [1, 3])
def test_in_system_loops_over_the_chain_then_the_receiver_decides(engine, depth):
    driver = Driver(engine, "member_transfer", {"kind": "in_system", "subject_id": 1})
    for left in range(depth - 1, -1, -1):
        assert driver.ready() == [("approve", "审批", SA, "transfer.approve", "P7D")]
        _approve(driver, left)
    assert driver.ready() == [("receive", "接收", RECV, "transfer.receive", "P7D")]
    assert driver.do("receive", {"accepted": True}).completed
    assert driver.done == ["approve"] * depth + ["receive"]


def test_a_return_at_any_step_ends_it(engine):
    driver = Driver(engine, "member_transfer", {"kind": "in_system"})
    _approve(driver, 2)
    assert _approve(driver, 1, approved=False).completed


def test_the_receiver_may_refuse(engine):
    driver = Driver(engine, "member_transfer", {"kind": "in_system"})
    _approve(driver, 0)
    assert driver.do("receive", {"accepted": False}).completed


def test_into_system_ends_with_the_superiors_approval(engine):
    driver = Driver(engine, "member_transfer", {"kind": "into_system"})
    assert _approve(driver, 0).completed


def test_out_of_system_letter_then_receipt(engine):
    driver = Driver(engine, "member_transfer", {"kind": "out_of_system"})
    _approve(driver, 1)
    _approve(driver, 0)
    assert driver.ready() == [("issue_letter", "开具介绍信", SEND, "transfer.issue_letter", "P7D")]
    instance = driver.do("issue_letter", {"letter_expires_at": iso_in(3600)})
    assert instance.has_waiting_timers()
    assert driver.ready() == [("record_receipt", "登记回执", SEND, "transfer.record_receipt", None)]
    assert driver.do("record_receipt").completed


@pytest.mark.parametrize("outcome,ends", [("received", True), ("withdraw", True), ("reissue", False)])
def test_an_expired_letter_raises_a_task(engine, outcome, ends):
    driver = Driver(engine, "member_transfer", {"kind": "out_of_system"})
    _approve(driver, 0)
    driver.do("issue_letter", {"letter_expires_at": iso_in(-1)})
    driver.refresh()
    assert driver.ready() == [("handle_expiry", "介绍信逾期处理", SEND, "transfer.handle_expiry", "P7D")]
    data = {"outcome": outcome, "letter_expires_at": iso_in(3600)}
    assert driver.do("handle_expiry", data).completed is ends
    if not ends:  # a new letter: the receipt is awaited again, under the new deadline
        assert [r[0] for r in driver.ready()] == ["record_receipt"]
        assert driver.refresh().has_waiting_timers()


def test_org_transfer_walks_its_chain(engine):
    driver = Driver(engine, "org_transfer", {"kind": "move"})
    _approve(driver, 1)
    assert _approve(driver, 0).completed
    returned = Driver(engine, "org_transfer", {"kind": "merge"})
    assert _approve(returned, 0, approved=False).completed
