import base64
import hashlib
from datetime import UTC, date, datetime

from hotelbook_chassis.cards import luhn_ok
from hotelbook_chassis.pkce import new_code_verifier
from hotelbook_chassis.pkce import s256 as code_challenge  # the challenge booking-ui sends
from hotelbook_ui.domain import (
    format_money,
    parse_card,
    parse_stay,
    refine,
    safe_next,
    seconds_left,
)

TODAY = date(2027, 1, 10)


def test_money_is_formatted_from_minor_units():
    assert format_money({"amount": 123456, "currency": "EUR"}) == "€1,234.56"
    assert format_money({"amount": 5, "currency": "CHF"}) == "0.05 CHF"
    assert format_money(None) == "—"


def test_stay_needs_city_and_ordered_dates():
    query = parse_stay({"city": "", "checkin": "2027-01-12", "checkout": "2027-01-11"}, TODAY)
    assert set(query.errors) == {"city", "checkout"}
    assert parse_stay({"city": "Rome", "checkin": "2027-01-01", "checkout": "2027-01-03"}, TODAY).errors == {
        "checkin": "Check-in cannot be in the past."}
    ok = parse_stay({"city": " Rome ", "checkin": "2027-01-12", "checkout": "2027-01-15", "guests": "3"}, TODAY)
    assert not ok.errors and ok.city == "Rome" and ok.nights == 3
    assert ok.search_params() == {"city": "Rome", "guests": 3, "checkin": "2027-01-12", "checkout": "2027-01-15",
                                  "sort": "price"}
    filtered = parse_stay({"city": "Rome", "stars": "4", "max_price": "90", "sort": "stars"}, TODAY)
    assert filtered.search_params() == {"city": "Rome", "guests": 2, "sort": "-stars", "stars": 4,
                                        "max_price": 9000}


def test_stay_rejects_bad_guests_and_one_date_only():
    query = parse_stay({"city": "Rome", "checkin": "2027-01-12", "guests": "99"}, TODAY)
    assert "guests" in query.errors and "checkout" in query.errors


def test_refine_filters_and_sorts():
    def hotel(name, stars, amount):
        return {"name": name, "stars": stars, "stay_price": {"amount": amount, "currency": "EUR"},
                "nightly_price_from": {"amount": amount // 2, "currency": "EUR"}}

    items = [hotel("B", 3, 30000), hotel("A", 5, 50000), hotel("C", 2, 10000)]
    by_price = refine(items, parse_stay({"city": "x"}, TODAY))
    assert [h["name"] for h in by_price] == ["C", "B", "A"]
    filtered = refine(items, parse_stay({"city": "x", "stars": "3", "sort": "stars"}, TODAY))
    assert [h["name"] for h in filtered] == ["A", "B"]
    cheap = refine(items, parse_stay({"city": "x", "max_price": "150"}, TODAY))  # per night
    assert [h["name"] for h in cheap] == ["C", "B"]


def test_pkce_s256_challenge_matches_rfc7636_example():
    # RFC 7636, appendix B.
    assert code_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == \
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    verifier = new_code_verifier()
    assert 43 <= len(verifier) <= 128
    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    assert code_challenge(verifier) == digest


def test_next_is_only_a_local_path():
    assert safe_next("/reservations") == "/reservations"
    assert safe_next("//evil.example/x") == "/"
    assert safe_next("https://evil.example") == "/"
    assert safe_next("/\\evil") == "/"


def test_card_form():
    assert luhn_ok("4242424242424242") and not luhn_ok("4242424242424241")
    card, errors = parse_card({"card_number": "4242 4242 4242 4242", "expiry": "12/30", "cvc": "123",
                               "holder": "Ada"}, TODAY)
    assert errors == {} and card.number == "4242424242424242" and (card.exp_month, card.exp_year) == (12, 2030)
    card, errors = parse_card({"card_number": "1234", "expiry": "13/20", "cvc": "x", "holder": ""}, TODAY)
    assert card is None and set(errors) == {"card_number", "expiry", "cvc", "holder"}
    _, errors = parse_card({"card_number": "4242424242424242", "expiry": "12/26", "cvc": "123", "holder": "A"},
                           TODAY)
    assert errors == {"expiry": "This card has expired."}


def test_seconds_left():
    now = datetime(2027, 1, 10, 12, 0, tzinfo=UTC)
    assert seconds_left("2027-01-10T12:10:00Z", now) == 600
    assert seconds_left("2027-01-10T11:00:00Z", now) == 0
    assert seconds_left("garbage", now) == 0


def test_city_heading_and_suggestions():
    from hotelbook_ui.domain import city_heading, suggest_cities

    known = [{"name": "Zürich", "country": "CH"}, {"name": "Zug", "country": "CH"}, {"name": "Paris", "country": "FR"}]
    assert city_heading("zurich", [], known) == "Zürich"
    assert city_heading("paris", [{"city": "Paris"}]) == "Paris"
    assert city_heading("Atlantis", [], known) == "Atlantis"
    assert [c["name"] for c in suggest_cities("Zurch", known)] == ["Zürich"]
    assert suggest_cities("zürich", known) == []  # the same city is not a suggestion


def test_times_are_shown_on_the_hotels_clock_with_the_zone_named():
    from hotelbook_ui.domain import local_time

    assert local_time("2026-11-29T14:31:00Z", "Europe/Paris") == "Sun 29 Nov 2026, 15:31 Paris time"
    assert local_time("2026-07-01T10:00:00+00:00", "America/New_York") == "Wed 01 Jul 2026, 06:00 New York time"
    assert local_time("2026-11-29T14:31:00Z", None) == "Sun 29 Nov 2026, 14:31 UTC"
    assert local_time("2026-11-29T14:31:00Z", "Not/AZone") == "Sun 29 Nov 2026, 14:31 UTC"
    assert local_time("garbage", "Europe/Paris") == "—"
