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


# --- cancellation terms --------------------------------------------------------------------------------

ZURICH_48H = domain.CancellationPolicy.from_json({"kind": "flexible", "free_cancellation_hours": 48, "nights_kept": 1,
                                                  "checkin_time": "15:00", "timezone": "Europe/Zurich"})
CHECKIN, CHECKOUT = date(2027, 7, 10), date(2027, 7, 13)  # 3 nights at 100.00 = 300.00; Zürich is UTC+2 in July


def terms(policy, now):
    return domain.cancellation_terms(policy, 30000, 10000, CHECKIN, CHECKOUT, now)


def test_the_stay_starts_at_check_in_time_in_the_hotels_own_zone():
    assert ZURICH_48H.stay_starts_at(CHECKIN) == datetime(2027, 7, 10, 13, 0)  # 15:00 in Zürich
    assert ZURICH_48H.free_until(CHECKIN) == datetime(2027, 7, 8, 13, 0)
    tokyo = domain.CancellationPolicy.from_json({"kind": "flexible", "free_cancellation_hours": 48,
                                                 "timezone": "Asia/Tokyo"})
    assert tokyo.stay_starts_at(CHECKIN) == datetime(2027, 7, 10, 6, 0)


def test_free_until_the_deadline_then_the_first_night_is_kept():
    assert terms(ZURICH_48H, datetime(2027, 6, 1)) == (30000, 0)
    assert terms(ZURICH_48H, datetime(2027, 7, 8, 12, 59, 59)) == (30000, 0)
    assert terms(ZURICH_48H, datetime(2027, 7, 8, 13, 0)) == (20000, 10000)
    assert terms(ZURICH_48H, datetime(2027, 7, 10, 12, 59)) == (20000, 10000)


def test_no_cancellation_once_the_stay_has_started_even_after_check_out():
    for now in (datetime(2027, 7, 10, 13, 0), datetime(2027, 7, 11), datetime(2027, 8, 1)):
        with pytest.raises(domain.StayStarted):
            terms(ZURICH_48H, now)


def test_non_refundable_keeps_everything_and_refunded_plus_kept_is_the_total():
    policy = domain.CancellationPolicy.from_json({"kind": "non_refundable", "timezone": "Europe/Zurich"})
    assert terms(policy, datetime(2027, 1, 1)) == (0, 30000)
    two_nights = domain.CancellationPolicy.from_json({"kind": "flexible", "free_cancellation_hours": 24,
                                                      "nights_kept": 5, "timezone": "Europe/Zurich"})
    assert terms(two_nights, datetime(2027, 7, 10)) == (0, 30000)  # never more than was paid


def test_reservations_held_before_policies_are_free_until_the_stay_starts():
    legacy = domain.CancellationPolicy.from_json(None)
    assert terms(legacy, datetime(2027, 7, 10, 14, 59)) == (30000, 0)
    with pytest.raises(domain.StayStarted):
        terms(legacy, datetime(2027, 7, 10, 15, 0))


def test_receipt_number_is_stable_and_short():
    from hotelbook_reservations.domain import receipt_number

    assert receipt_number("5b0c8f5e-8f1e-4d0e-9a44-0a4b1f7e2a11") == "HB-5B0C8F5E-8F1E4D0E"


def test_tax_line_from_the_kept_rate():
    from hotelbook_reservations.domain import tax_line, usable_vat

    assert tax_line(1038, "CHF", "3.8") == {"name": "VAT", "rate_percent": "3.8",
                                            "amount": {"amount": 38, "currency": "CHF"}}
    assert tax_line(1038, "CHF", None) is None
    assert [usable_vat(v) for v in ("7", "13.5", "x", "-1", "100", 7, None, "1" * 9)] == [
        "7", "13.5", None, None, None, None, None, None]
