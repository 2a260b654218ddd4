"""Cancelling under the offer's policy, with every service a real process behind the gateway.

After every scenario the bank's charged minus refunded equals the confirmed totals plus the kept fees.
"""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import create_engine, text

from hotelbook_stack.services import BY_NAME
from tests.journey import Guest, stay
from tests.money import assert_money_and_rooms_agree, bank_net


@pytest.fixture(scope="module")
def hotel(stack):
    return stack.create_hotel(city="Zürich", rooms=20, nightly_price=10000, name="Hotel Belvoir")


@pytest.fixture
def guest(stack):
    guest = Guest(stack.gateway_url, stack.layout.client_credentials("booking-ui"))
    guest.sign_up(stack.token("booking-ui", "users:create"))
    guest.log_in()
    return guest


@pytest.fixture(autouse=True)
def money_agrees_after(stack):
    yield
    assert_money_and_rooms_agree(stack, Guest.everyone)


def booked(guest, hotel, offset, nights=2):
    checkin, checkout = stay(offset, nights)
    held = guest.hold(hotel["id"], hotel["room_types"][0]["id"], checkin, checkout)
    assert held.status_code == 201, held.text
    paid = guest.pay(held.json()["id"])
    assert paid.status_code == 201, paid.text
    return held.json()


def pdf_text(response) -> str:
    assert response.status_code == 200, response.text
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)


def test_the_policy_is_shown_in_results_on_the_hotel_page_and_kept_with_the_hold(stack, guest, hotel):
    checkin, checkout = stay(60, 2)
    item = next(i for i in guest.search("zurich", checkin, checkout).json()["items"] if i["id"] == hotel["id"])
    assert item["cancellation_policy"]["kind"] == "flexible"
    page = guest.http.get(f"{guest.gateway}/api/search/hotels/{hotel['id']}", timeout=15).json()
    assert page["timezone"] == "Europe/Zurich"
    shown = page["room_types"][0]["cancellation_policy"]
    held = guest.hold(hotel["id"], hotel["room_types"][0]["id"], checkin, checkout).json()
    assert held["cancellation_policy"]["description"] == shown["description"]
    assert held["cancellation_policy"]["timezone"] == "Europe/Zurich"
    assert guest.cancel(held["id"]).status_code == 200  # unpaid: nothing to refund


def test_cancelled_early_refunds_all_and_the_receipt_becomes_a_cancellation_note(stack, guest, hotel):
    reservation = booked(guest, hotel, 40)
    receipt = pdf_text(guest.receipt(reservation["id"]))
    assert "Total paid" in receipt and "Includes VAT 3.8 %: 7.32 EUR" in receipt  # 20000 * 3.8 / 103.8 = 732.18
    before = bank_net(stack)
    cancelled = guest.cancel(reservation["id"]).json()
    assert cancelled["refunded"] == {"amount": 20000, "currency": "EUR"}
    assert bank_net(stack) == before - 20000
    note = pdf_text(guest.receipt(reservation["id"]))
    assert "Cancellation note" in note and "Total paid" not in note
    assert "200.00 EUR" in note and "Kept as cancellation fee" in note


def test_cancelled_inside_the_deadline_keeps_the_first_night(stack, guest, hotel):
    # Check-in tomorrow at 15:00 in Zürich is always less than 48 hours away.
    reservation = booked(guest, hotel, 1)
    before = bank_net(stack)
    cancelled = guest.cancel(reservation["id"])
    assert cancelled.status_code == 200, cancelled.text
    body = cancelled.json()
    assert body["refunded"]["amount"] == 10000 and body["cancellation_fee"]["amount"] == 10000
    assert bank_net(stack) == before - 10000  # payments refunded exactly what the policy gives back
    note = pdf_text(guest.receipt(reservation["id"]))
    assert "Refunded to the card" in note and "100.00 EUR" in note and "Total paid" not in note
    # The Swiss VAT inside what was kept: 10000 * 3.8 / 103.8 = 366.09 -> 3.66 EUR, under the receipt's number.
    assert "Includes VAT 3.8 %: 3.66 EUR" in note and f"Receipt number {cancelled.json()['receipt_number']}" in note


def test_no_free_stay_once_it_has_started(stack, guest, hotel):
    reservation = booked(guest, hotel, 2)
    # The guest has checked in: move the stay to yesterday..tomorrow in reservations' own database.
    engine = create_engine(stack.layout.database_url(BY_NAME["reservations"]))
    with engine.begin() as conn:
        conn.execute(text("UPDATE reservations SET checkin = :a, checkout = :b WHERE id = :id"),
                     {"a": date.today() - timedelta(days=1), "b": date.today() + timedelta(days=1),
                      "id": reservation["id"]})
    engine.dispose()
    before = bank_net(stack)
    answer = guest.cancel(reservation["id"])
    assert answer.status_code == 409, answer.text
    assert answer.headers["Content-Type"].startswith("application/problem+json")
    assert answer.json()["type"].endswith(":stay-started")
    assert bank_net(stack) == before
    assert guest.reservation(reservation["id"]).json()["status"] == "confirmed"


def test_non_refundable_rate_keeps_everything(stack, guest):
    hotel = stack.create_hotel(city="Bern", rooms=5, nightly_price=8000,
                               cancellation_policy={"kind": "non_refundable"})
    reservation = booked(guest, hotel, 50, nights=1)
    assert reservation["cancellation_policy"]["kind"] == "non_refundable"
    before = bank_net(stack)
    body = guest.cancel(reservation["id"]).json()
    assert body["status"] == "cancelled" and body["refunded"]["amount"] == 0
    assert body["cancellation_fee"]["amount"] == 8000
    assert bank_net(stack) == before
