"""Money and rooms must agree: what the bank really holds equals what was booked, plus the
cancellation fees kept under each offer's policy."""

from __future__ import annotations

import time
from collections.abc import Iterable

import requests

from tests.journey import Guest


def confirmed_total(guests: Iterable[Guest]) -> int:
    total = 0
    for guest in guests:
        if guest.token is None:  # signed up, never logged in: booked nothing
            continue
        token = None
        while True:
            params = {"limit": 100, **({"next_token": token} if token else {})}
            page = guest.http.get(f"{guest.gateway}/api/reservations/reservations", params=params,
                                  headers=guest.headers, timeout=15)
            assert page.status_code == 200, page.text
            body = page.json()
            total += sum(r["total"]["amount"] for r in body["items"] if r["status"] == "confirmed")
            total += sum(kept_fee(r) for r in body["items"] if r["status"] == "cancelled")
            token = body["next_token"]
            if not token:
                break
    return total


def kept_fee(reservation: dict) -> int:
    """What a cancelled reservation's policy kept: paid minus refunded (nothing when it was never paid)."""
    if not reservation.get("payment_id"):
        return 0
    assert reservation["refunded"] is not None, reservation
    return reservation["total"]["amount"] - reservation["refunded"]["amount"]


def bank_net(stack) -> int:
    """Charged minus refunded, read from the bank sandbox's own ledger."""
    ledger = requests.get(f"{stack.url('bank')}/ledger", timeout=10)
    assert ledger.status_code == 200, ledger.text
    body = ledger.json()
    return body["charged"] - body["refunded"]


def assert_money_and_rooms_agree(stack, guests: Iterable[Guest], within: float = 45) -> None:
    """Charged minus refunded equals confirmed totals plus kept cancellation fees, once reconcile has
    finished what faults left.

    ``reconcile`` (the periodic job of ``make up``) takes over a payment a crash
    left pending only once it is older than the bank timeout, hence the wait.
    """
    guests = list(guests)
    deadline = time.monotonic() + within
    while True:
        stack.flask("payments", "hotelbook_payments", "reconcile")
        money, rooms = bank_net(stack), confirmed_total(guests)
        if money == rooms or time.monotonic() > deadline:
            break
        time.sleep(3)
    assert money == rooms, f"bank holds {money}, confirmed reservations and kept fees total {rooms}"
