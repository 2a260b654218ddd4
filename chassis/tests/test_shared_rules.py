"""The code every service used to carry a copy of: clock, cards, PKCE, money text, get-or-404, problem bodies,
peer errors."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests

from hotelbook_chassis import Problem
from hotelbook_chassis.cards import brand, cvc_ok, expired, luhn_ok, normalise_number, number_ok
from hotelbook_chassis.client import PeerError, expect
from hotelbook_chassis.clock import now_ms, now_seconds, utcnow
from hotelbook_chassis.database import get_or_404
from hotelbook_chassis.money import format_money
from hotelbook_chassis.pkce import new_code_verifier, pkce_matches, s256, valid_pkce_value
from hotelbook_chassis.problems import problem_body


def test_the_clock_is_naive_utc_and_epoch_counts():
    now = utcnow()
    assert now.tzinfo is None
    assert abs(now - datetime.now(UTC).replace(tzinfo=None)) < timedelta(seconds=5)
    assert abs(now_seconds() - time.time()) < 5
    assert abs(now_ms() / 1000 - time.time()) < 5


def test_luhn_and_brand():
    assert luhn_ok("4242424242424242") and not luhn_ok("4242424242424241")
    assert [brand(n) for n in ("4242424242424242", "5555555555554444", "2223003122003222", "378282246310005",
                               "6011111111111117")] == ["visa", "mastercard", "mastercard", "amex", "card"]


def test_card_checks_before_a_card_is_sent():
    assert normalise_number(" 4242 4242-4242\t4242 ") == "4242424242424242"
    assert number_ok("4242424242424242") and not number_ok("4242424242424241")
    assert not number_ok("42424242424") and not number_ok("4242 4242 4242 4242")  # too short; not digits
    today = datetime(2026, 11, 29).date()
    assert not expired(11, 2026, today) and expired(10, 2026, today) and expired(12, 2025, today)
    assert cvc_ok("123") and cvc_ok("1234") and not cvc_ok("12") and not cvc_ok("12a")


def test_pkce_s256_of_rfc_7636_appendix_b():
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert s256(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    assert pkce_matches(verifier, s256(verifier)) and not pkce_matches(verifier, s256(verifier + "x"))
    fresh = new_code_verifier()
    assert valid_pkce_value(fresh) and 43 <= len(fresh) <= 128
    assert not valid_pkce_value("short") and not valid_pkce_value(None) and not pkce_matches("short", s256("short"))


@pytest.mark.parametrize(("amount", "currency", "symbol", "text"), [
    (123456, "EUR", False, "1,234.56 EUR"),
    (123456, "EUR", True, "€1,234.56"),
    (5, "CHF", True, "0.05 CHF"),
    (-1050, "GBP", True, "-£10.50"),
    (-1050, "USD", False, "-10.50 USD"),
    (10**15 + 1, "EUR", False, "10,000,000,000,000.01 EUR"),  # integers all the way: no float rounding
])
def test_money_text_in_integer_arithmetic(amount, currency, symbol, text):
    assert format_money(amount, currency, symbol=symbol) == text


def test_problem_body_is_the_document_a_problem_answers():
    assert problem_body(402, "The card was declined.", "card-declined", payment_id="p1") == {
        "type": "urn:problem:hotelbook:card-declined", "title": "Payment Required", "status": 402,
        "detail": "The card was declined.", "payment_id": "p1"}
    assert problem_body(404)["type"] == "about:blank"


def test_get_or_404_guards_the_id_before_any_query(app):
    from conftest import Note, db

    with app.app_context():
        note = Note(id=7, text="kept")
        db.session.add(note)
        db.session.commit()
        try:
            assert get_or_404(Note, 7, "No such note.", max_length=None).text == "kept"
            assert get_or_404(lambda ident: {"id": ident}, "a" * 36, "No such note.") == {"id": "a" * 36}
            asked = []
            for source in (Note, lambda ident: asked.append(ident)):
                for ident, options in (("8", {}), ("x" * 37, {}), ("7", {"uuid": True})):
                    with pytest.raises(Problem) as raised:
                        get_or_404(source, ident, "No such note.", **options)
                    assert (raised.value.status, raised.value.detail, raised.value.type) == (
                        404, "No such note.", "urn:problem:hotelbook:not-found")
            assert asked == ["8"]  # the guard kept the other two from the loader
        finally:
            db.session.delete(note)
            db.session.commit()


def test_a_peer_server_answers_at_a_real_address(app):
    import requests

    from hotelbook_chassis.testing import PeerServer, json_routes

    routes = {"/a": {"n": 1}}
    with PeerServer(json_routes(routes)) as peer:
        assert requests.get(f"{peer.url}/a", timeout=5).json() == {"n": 1}
        routes["/b"] = [2]  # read at request time: a test may add answers as it goes
        assert requests.get(f"{peer.url}/b", timeout=5).json() == [2]
        assert requests.get(f"{peer.url}/c", timeout=5).status_code == 404
    with PeerServer(app) as flask_peer:  # any WSGI app: here the chassis test service
        assert requests.get(f"{flask_peer.url}/healthz", timeout=5).json()["status"] == "ok"


def _answer(status: int, body: bytes) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body
    return response


def test_a_peer_answer_is_its_json_or_one_peer_error():
    assert expect(_answer(200, b'{"id": 1}'), "users") == {"id": 1}
    assert expect(_answer(204, b""), "users", 204) is None
    with pytest.raises(PeerError) as refused:
        expect(_answer(422, json.dumps({"detail": "No.", "type": "urn:x", "invalid_params": [
            {"name": "card.cvc", "reason": "3 or 4 digits"}]}).encode()), "payments", 201)
    assert (refused.value.peer, refused.value.status, refused.value.detail) == ("payments", 422, "No.")
    assert refused.value.reason_for("cvc") == "3 or 4 digits" and refused.value.reason_for("holder") is None
    with pytest.raises(PeerError) as unreadable:
        expect(_answer(200, b"<html>"), "search")
    assert unreadable.value.status == 502
