import pytest

from hotelbook_payments.domain import STATUSES, TRANSITIONS, InvalidTransition, check_transition


def test_every_status_has_its_moves_and_only_a_pending_payment_gets_an_outcome():
    assert set(TRANSITIONS) == set(STATUSES)
    assert TRANSITIONS["pending"] == {"succeeded", "declined", "failed"}
    assert TRANSITIONS["succeeded"] == {"refunded"}
    for final in ("declined", "failed", "refunded"):
        assert TRANSITIONS[final] == frozenset()


def test_a_move_outside_the_table_is_refused():
    check_transition("succeeded", "refunded")
    with pytest.raises(InvalidTransition):
        check_transition("declined", "refunded")
    with pytest.raises(InvalidTransition):
        check_transition("refunded", "succeeded")
