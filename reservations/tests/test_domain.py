from datetime import date, datetime

import pytest

from hotelbook_reservations import domain


@pytest.mark.parametrize("current, wanted", [("held", "confirmed"), ("held", "cancelled"), ("held", "expired"),
                                             ("confirmed", "cancelled")])
def test_allowed_transitions(current, wanted):
    domain.check_transition(current, wanted)


@pytest.mark.parametrize("current, wanted", [("confirmed", "held"), ("confirmed", "expired"),
                                             ("cancelled", "confirmed"), ("expired", "confirmed"),
                                             ("cancelled", "cancelled"), ("expired", "held")])
def test_other_transitions_refused(current, wanted):
    with pytest.raises(domain.InvalidTransition):
        domain.check_transition(current, wanted)


def test_nights_released_only_when_leaving_a_holding_status():
    assert domain.releases_nights("held", "expired")
    assert domain.releases_nights("confirmed", "cancelled")
    assert not domain.releases_nights("held", "confirmed")


def test_total_and_expiry():
    assert domain.stay_total(12000, date(2027, 1, 1), date(2027, 1, 4)) == 36000
    now = datetime(2027, 1, 1, 12, 0)
    assert domain.hold_expiry(now, 15) == datetime(2027, 1, 1, 12, 15)
    assert domain.is_expired("held", now, now)
    assert not domain.is_expired("confirmed", now, now)
