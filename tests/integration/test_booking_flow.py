"""The booking journey over HTTP through the gateway, every service a real process."""

from __future__ import annotations

import io
import re

import pytest
from pypdf import PdfReader

from tests.journey import GOOD_CARD, Guest, stay


@pytest.fixture(scope="module")
def hotel(stack):
    return stack.create_hotel(city="Zürich", rooms=3, nightly_price=15000, name="Hotel Limmatblick")


@pytest.fixture(scope="module")
def guest(stack):
    guest = Guest(stack.gateway_url, stack.layout.client_credentials("booking-ui"))
    guest.sign_up(stack.token("booking-ui", "users:create"))
    guest.log_in()
    return guest


def test_every_service_is_ready_and_answers_problems_with_request_id(stack):
    import requests

    for name in stack.processes:
        assert requests.get(f"{stack.url(name)}/readyz", timeout=5).status_code == 200
        # The booking UI shows browsers an HTML page; API clients asking for JSON get problem+json.
        missing = requests.get(f"{stack.url(name)}/no-such-path", headers={"Accept": "application/json"},
                               timeout=5)
        assert missing.status_code == 404
        assert missing.headers["Content-Type"].startswith("application/problem+json")
        assert missing.json()["request_id"] == missing.headers["X-Request-ID"]


def test_sign_up_sends_a_verification_link_that_works(stack):
    guest = Guest(stack.gateway_url, stack.layout.client_credentials("booking-ui"))
    guest.sign_up(stack.token("booking-ui", "users:create"))
    from hotelbook_chassis.smtp_sink import body_text

    message = stack.mail.wait_for(guest.email, subject_contains="")
    token = re.search(r"verify-email\?token=([^\s\"'<>]+)", body_text(message)).group(1)
    verified = guest.http.post(f"{stack.gateway_url}/api/users/email-verifications", json={"token": token}, timeout=10)
    assert verified.status_code == 200, verified.text
    assert verified.json()["email_verified"] is True
    again = guest.http.post(f"{stack.gateway_url}/api/users/email-verifications", json={"token": token}, timeout=10)
    assert again.status_code == 400


def test_search_finds_the_hotel_accent_insensitively_with_stay_price(stack, guest, hotel):
    checkin, checkout = stay(40, 2)
    response = guest.search("zurich", checkin, checkout)
    assert response.status_code == 200, response.text
    found = [item for item in response.json()["items"] if item["id"] == hotel["id"]]
    if not found:  # many seeded hotels in Zürich: page on until ours appears
        token = response.json()["next_token"]
        while token and not found:
            page = guest.http.get(f"{stack.gateway_url}/api/search/hotels", params={
                "city": "zurich", "checkin": checkin, "checkout": checkout, "guests": 2, "next_token": token},
                timeout=10).json()
            found = [item for item in page["items"] if item["id"] == hotel["id"]]
            token = page["next_token"]
    assert found, "created hotel not found by an accent-insensitive search"
    assert found[0]["available"] is True
    assert found[0]["stay_price"] == {"amount": 30000, "currency": "EUR"}


def test_hold_pay_receipt_cancel(stack, guest, hotel):
    checkin, checkout = stay(45, 2)
    room_type = hotel["room_types"][0]
    held = guest.hold(hotel["id"], room_type["id"], checkin, checkout)
    assert held.status_code == 201, held.text
    reservation = held.json()
    assert reservation["status"] == "held"
    assert reservation["total"] == {"amount": 30000, "currency": "EUR"}
    assert reservation["hold_expires_at"]

    paid = guest.pay(reservation["id"])
    assert paid.status_code in (200, 201), paid.text
    payment = paid.json()
    assert payment["status"] == "succeeded"
    assert payment["card"] == {"brand": "visa", "last4": "4242"}
    assert GOOD_CARD["number"] not in paid.text

    confirmed = guest.reservation(reservation["id"]).json()
    assert confirmed["status"] == "confirmed"
    assert confirmed["payment_id"] == payment["id"]

    receipt = guest.receipt(reservation["id"])
    assert receipt.status_code == 200
    assert receipt.headers["Content-Type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(receipt.content)).pages)
    assert "Hotel Limmatblick" in text
    assert "300" in text

    mail = stack.mail.wait_for(guest.email, subject_contains="eceipt", timeout=30)
    assert mail is not None

    cancelled = guest.cancel(reservation["id"])
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"


def test_declined_card_leaves_the_hold(stack, guest, hotel):
    checkin, checkout = stay(50, 1)
    reservation = guest.hold(hotel["id"], hotel["room_types"][0]["id"], checkin, checkout).json()
    declined = guest.pay(reservation["id"], {**GOOD_CARD, "number": "4000000000000002"})
    assert declined.status_code == 402
    assert declined.headers["Content-Type"].startswith("application/problem+json")
    assert guest.reservation(reservation["id"]).json()["status"] == "held"


def test_another_guest_cannot_see_my_reservation(stack, guest, hotel):
    checkin, checkout = stay(55, 1)
    mine = guest.hold(hotel["id"], hotel["room_types"][0]["id"], checkin, checkout).json()
    other = Guest(stack.gateway_url, stack.layout.client_credentials("booking-ui"))
    other.sign_up(stack.token("booking-ui", "users:create"))
    other.log_in()
    assert other.reservation(mine["id"]).status_code == 404
    assert other.pay(mine["id"]).status_code == 404


def test_gateway_blocks_hostile_requests_and_keeps_request_ids(stack, guest):
    import requests

    attack = {"city": "x' UNION SELECT password FROM users--"}
    hostile = requests.get(f"{stack.gateway_url}/api/search/hotels", params=attack, timeout=10)
    assert hostile.status_code == 403
    assert hostile.json()["rule_id"]
    benign = requests.get(f"{stack.gateway_url}/api/search/cities", params={"prefix": "O'Brien"},
                          headers={"X-Request-ID": "journey-1"}, timeout=10)
    assert benign.status_code == 200
    assert benign.headers["X-Request-ID"] == "journey-1"
