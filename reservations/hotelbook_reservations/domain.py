"""Reservation rules in plain Python: the state machine and the price of a stay."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from hotelbook_chassis.stays import nights

HELD, CONFIRMED, CANCELLED, EXPIRED = "held", "confirmed", "cancelled", "expired"
STATUSES = (HELD, CONFIRMED, CANCELLED, EXPIRED)

# The only moves a reservation can make; anything else is a 409.
TRANSITIONS: dict[str, frozenset[str]] = {
    HELD: frozenset({CONFIRMED, CANCELLED, EXPIRED}),
    CONFIRMED: frozenset({CANCELLED}),
    CANCELLED: frozenset(),
    EXPIRED: frozenset(),
}
# Statuses whose nights are counted as taken.
HOLDS_NIGHTS = frozenset({HELD, CONFIRMED})


class InvalidTransition(Exception):
    def __init__(self, current: str, wanted: str) -> None:
        super().__init__(f"A {current} reservation cannot become {wanted}.")
        self.current = current
        self.wanted = wanted


def check_transition(current: str, wanted: str) -> None:
    if wanted not in TRANSITIONS[current]:
        raise InvalidTransition(current, wanted)


def releases_nights(current: str, wanted: str) -> bool:
    """Leaving a status that holds nights for one that does not gives them back."""
    return current in HOLDS_NIGHTS and wanted not in HOLDS_NIGHTS


def stay_total(nightly_amount: int, checkin: date, checkout: date) -> int:
    return nightly_amount * nights(checkin, checkout)


def hold_expiry(now: datetime, minutes: int) -> datetime:
    return now + timedelta(minutes=minutes)


def is_expired(status: str, hold_expires_at: datetime, now: datetime) -> bool:
    return status == HELD and hold_expires_at <= now


def may_hold(active_holds: int, limit: int) -> bool:
    """A guest may hold another room while below the limit of unpaid holds (one room per hold)."""
    return active_holds < limit


def seconds_until(moment: datetime | None, now: datetime) -> int:
    """Whole seconds from now until ``moment`` (at least 1), for ``Retry-After``."""
    if moment is None:
        return 1
    return max(1, int((moment - now).total_seconds()) + 1)
