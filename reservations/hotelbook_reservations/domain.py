"""Reservation rules in plain Python: the state machine, the price of a stay, what a cancellation refunds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hotelbook_chassis.stays import nights, tax_included

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


# --- cancellation -------------------------------------------------------------------------------------

FLEXIBLE, NON_REFUNDABLE = "flexible", "non_refundable"


class StayStarted(Exception):
    """The stay has begun: a reservation can no longer be cancelled."""

    def __init__(self, starts_at: datetime) -> None:
        super().__init__(f"The stay started at {starts_at.isoformat()}Z; it can no longer be cancelled.")
        self.starts_at = starts_at


@dataclass(frozen=True)
class CancellationPolicy:
    """The offer's policy as shown before paying, kept with the reservation at hold time.

    ``free_cancellation_hours`` before the stay starts (check-in time in the hotel's
    own time zone) a cancellation is refunded in full; later the first
    ``nights_kept`` nights are kept; a non-refundable rate keeps everything.
    """

    kind: str = FLEXIBLE
    free_cancellation_hours: int = 0
    nights_kept: int = 1
    checkin_time: time = time(15, 0)
    timezone: str = "UTC"
    description: str = ""

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> CancellationPolicy:
        """None (a reservation held before policies existed): free until the stay starts."""
        if not data:
            return cls(description="Free cancellation until the stay starts.")
        hours, minutes = (int(part) for part in str(data.get("checkin_time") or "15:00").split(":")[:2])
        return cls(kind=data.get("kind", FLEXIBLE), free_cancellation_hours=int(data.get("free_cancellation_hours", 0)),
                   nights_kept=int(data.get("nights_kept", 1)), checkin_time=time(hours, minutes),
                   timezone=data.get("timezone") or "UTC", description=data.get("description") or "")

    def zone(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo("UTC")

    def stay_starts_at(self, checkin: date) -> datetime:
        """Check-in time on the check-in day in the hotel's zone, as naive UTC."""
        local = datetime.combine(checkin, self.checkin_time, tzinfo=self.zone())
        return local.astimezone(UTC).replace(tzinfo=None)

    def free_until(self, checkin: date) -> datetime | None:
        """The last moment (naive UTC) a cancellation is refunded in full; None for a non-refundable rate."""
        if self.kind == NON_REFUNDABLE:
            return None
        return self.stay_starts_at(checkin) - timedelta(hours=self.free_cancellation_hours)

    def local(self, moment: datetime) -> datetime:
        """A naive UTC moment in the hotel's own time (for showing)."""
        return moment.replace(tzinfo=UTC).astimezone(self.zone())


def cancellation_terms(policy: CancellationPolicy, total: int, nightly: int, checkin: date, checkout: date,
                       now: datetime) -> tuple[int, int]:
    """(refunded, kept) in minor units when a paid reservation is cancelled at ``now`` (naive UTC).

    Raises StayStarted once the stay has begun; refunded + kept == total always.
    """
    starts = policy.stay_starts_at(checkin)
    if now >= starts:
        raise StayStarted(starts)
    free_until = policy.free_until(checkin)
    if free_until is None:
        return 0, total
    if now < free_until:
        return total, 0
    kept = min(total, nightly * min(policy.nights_kept, nights(checkin, checkout)))
    return total - kept, kept


# --- receipts ---------------------------------------------------------------------------------------

RECEIPT_PREFIX = "HB"


def receipt_number(reservation_id: str) -> str:
    """The number printed on a reservation's receipt and cancellation note: stable, one per
    reservation, from the first 64 bits of its (random) UUID, e.g. ``HB-5B0C8F5E-8F1E4D0E``."""
    digits = reservation_id.replace("-", "").upper()
    return f"{RECEIPT_PREFIX}-{digits[:8]}-{digits[8:16]}"


def usable_vat(rate: object) -> str | None:
    """search's ``vat_percent`` when it is a rate we can compute with ("3.8"), else None."""
    if not isinstance(rate, str) or not 0 < len(rate) <= 8:
        return None
    try:
        tax_included(0, rate)
    except ValueError:
        return None
    return rate


def tax_line(gross: int, currency: str, vat_percent: str | None) -> dict[str, Any] | None:
    """The VAT included in ``gross`` at the hotel's rate (held with the reservation), or None
    when the catalogue had no rate on record for the hotel's country."""
    if not vat_percent:
        return None
    return {"name": "VAT", "rate_percent": vat_percent,
            "amount": {"amount": tax_included(gross, vat_percent), "currency": currency}}
