"""Payments with real processes: test cards, one charge per key, and convergence after faults.

After every scenario the bank's charged minus refunded equals the confirmed reservations' totals.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import create_engine, text

from hotelbook_stack.services import BY_NAME
from tests.journey import GOOD_CARD, Guest, stay
from tests.money import assert_money_and_rooms_agree, bank_net


@pytest.fixture(scope="module")
def hotel(stack):
    return stack.create_hotel(city="Lausanne", rooms=50, nightly_price=10000, name="Hotel du Lac")


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


def hold(guest, hotel, offset):
    checkin, checkout = stay(offset, 1)
    response = guest.hold(hotel["id"], hotel["room_types"][0]["id"], checkin, checkout)
    assert response.status_code == 201, response.text
    return response.json()


@pytest.mark.parametrize("number, status", [("4000000000000002", 402), ("4000000000009995", 402),
                                            ("4000000000000119", 502)])
def test_cards_that_do_not_pay(stack, guest, hotel, number, status):
    reservation = hold(guest, hotel, 100)
    before = bank_net(stack)
    answer = guest.pay(reservation["id"], {**GOOD_CARD, "number": number})
    assert answer.status_code == status, answer.text
    assert answer.headers["Content-Type"].startswith("application/problem+json")
    assert bank_net(stack) == before
    assert guest.reservation(reservation["id"]).json()["status"] == "held"


def test_slow_bank_still_charges_once_per_key(stack, guest, hotel):
    reservation = hold(guest, hotel, 101)
    slow = {**GOOD_CARD, "number": "4000000000000259"}
    first = guest.pay(reservation["id"], slow, key="slow-key-1")
    assert first.status_code in (201, 504), first.text
    time.sleep(4)
    for _ in range(30):
        again = guest.pay(reservation["id"], slow, key="slow-key-1")
        if again.status_code == 201:
            break
        assert again.status_code in (409, 504), again.text
        time.sleep(1)
    assert again.status_code == 201
    assert guest.reservation(reservation["id"]).json()["status"] == "confirmed"


def test_same_key_twenty_times_at_once_is_one_charge(stack, guest, hotel):
    reservation = hold(guest, hotel, 102)
    before = bank_net(stack)
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(lambda _: guest.pay(reservation["id"], key="twenty-at-once"), range(20)))
    ok = [a for a in answers if a.status_code == 201]
    assert ok, [a.status_code for a in answers]
    assert {a.status_code for a in answers} <= {201, 409}
    assert len({a.json()["id"] for a in ok}) == 1
    assert bank_net(stack) - before == reservation["total"]["amount"]


def test_reservations_down_between_charge_and_confirm(stack, guest, hotel):
    reservation = hold(guest, hotel, 103)
    slow = {**GOOD_CARD, "number": "4000000000000259"}
    # While the bank takes its time, reservations goes away: the charge succeeds, the confirm cannot.
    stopper = threading.Timer(1.0, stack.stop, args=("reservations",))
    stopper.start()
    answer = guest.pay(reservation["id"], slow, key="down-between")
    stopper.join()
    assert answer.status_code in (201, 502, 504), answer.text
    stack.start("reservations")
    for _ in range(40):
        stack.flask("payments", "hotelbook_payments", "reconcile")
        if guest.reservation(reservation["id"]).json()["status"] == "confirmed":
            break
        time.sleep(1)
    assert guest.reservation(reservation["id"]).json()["status"] == "confirmed"


def test_hold_expired_before_confirm_is_refunded(stack, guest, hotel):
    reservation = hold(guest, hotel, 104)
    slow = {**GOOD_CARD, "number": "4000000000000259"}
    engine = create_engine(stack.layout.database_url(BY_NAME["reservations"]))

    def expire() -> None:
        with engine.begin() as conn:
            conn.execute(text("UPDATE reservations SET hold_expires_at = '2000-01-01 00:00:00' WHERE id = :id"),
                         {"id": reservation["id"]})

    timer = threading.Timer(1.0, expire)
    timer.start()
    before = bank_net(stack)
    answer = guest.pay(reservation["id"], slow, key="expired-meanwhile")
    timer.join()
    engine.dispose()
    assert answer.status_code == 409, answer.text
    assert guest.reservation(reservation["id"]).json()["status"] == "expired"
    assert bank_net(stack) == before  # charged, then refunded


def test_payments_killed_right_after_the_charge(stack, guest, hotel):
    reservation = hold(guest, hotel, 105)
    stack.kill("payments")
    stack.start("payments", {"PAYMENTS_FAULT": "exit-after-charge", "WEB_CONCURRENCY": "1"})
    crashed = guest.pay(reservation["id"], key="crash-after-charge")
    assert crashed.status_code in (502, 503, 504)
    assert crashed.headers["Content-Type"].startswith("application/problem+json")
    stack.kill("payments")
    stack.start("payments")
    time.sleep(16)  # older than the stale threshold: reconcile takes it over
    stack.flask("payments", "hotelbook_payments", "reconcile")
    assert guest.reservation(reservation["id"]).json()["status"] == "confirmed"
    again = guest.pay(reservation["id"], key="crash-after-charge")
    assert again.status_code == 201 and again.json()["confirmed"] is True


def restart_payments(stack, env=None):
    stack.kill("payments")
    stack.start("payments", env)


def test_bank_answer_lost_past_the_timeout_is_pending_then_reconciled(stack, guest, hotel):
    """The real bank sandbox charges the slow card at once and answers after 3 s; payments gives up after 1 s."""
    reservation = hold(guest, hotel, 106)
    before = bank_net(stack)
    restart_payments(stack, {"BANK_TIMEOUT": "1"})
    try:
        answer = guest.pay(reservation["id"], {**GOOD_CARD, "number": "4000000000000259"}, key="answer-lost")
        assert answer.status_code == 504, answer.text
        assert answer.headers["Content-Type"].startswith("application/problem+json")
        problem = answer.json()
        assert problem["status_now"] == "pending" and "being checked" in problem["detail"]
        payment = guest.http.get(f"{guest.gateway}/api/payments/payments/{problem['payment_id']}",
                                 headers=guest.headers, timeout=15).json()
        assert payment["status"] == "pending"  # maybe charged: never "failed"
        assert bank_net(stack) - before == reservation["total"]["amount"]
        assert guest.reservation(reservation["id"]).json()["status"] == "held"
    finally:
        restart_payments(stack)
    stack.flask("payments", "hotelbook_payments", "reconcile", "--older-than", "0")
    assert guest.reservation(reservation["id"]).json()["status"] == "confirmed"
    again = guest.pay(reservation["id"], {**GOOD_CARD, "number": "4000000000000259"}, key="answer-lost")
    assert again.status_code == 201 and again.json()["status"] == "succeeded"
