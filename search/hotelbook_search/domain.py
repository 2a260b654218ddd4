"""Search rules in plain Python: stays, prices, city names."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date

MAX_NIGHTS = 30
MAX_GUESTS = 10
SORTS = ("name", "stars", "-stars", "price", "-price")


def city_key(name: str) -> str:
    """``Zürich`` and ``zurich`` share one key: case-folded, accents stripped."""
    decomposed = unicodedata.normalize("NFKD", name.strip())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def stay_errors(checkin: date | None, checkout: date | None, today: date) -> dict[str, str]:
    """Field name -> reason, for a stay that cannot be searched or booked."""
    if checkin is None and checkout is None:
        return {}
    if checkin is None or checkout is None:
        missing = "checkin" if checkin is None else "checkout"
        return {missing: "checkin and checkout go together."}
    if checkin < today:
        return {"checkin": "The stay cannot start in the past."}
    if checkout <= checkin:
        return {"checkout": "checkout must be after checkin."}
    if (checkout - checkin).days > MAX_NIGHTS:
        return {"checkout": f"A stay is at most {MAX_NIGHTS} nights."}
    return {}


def nights(checkin: date, checkout: date) -> int:
    return (checkout - checkin).days


@dataclass(frozen=True)
class RoomOffer:
    room_type_id: str
    capacity: int
    nightly_amount: int
    currency: str
    rooms: int


def cheapest_fitting(offers: list[RoomOffer], guests: int, free: dict[str, int] | None = None) -> RoomOffer | None:
    """The cheapest room type that fits ``guests`` (and, when known, has a free room)."""
    fitting = [o for o in offers if o.capacity >= guests and (free is None or free.get(o.room_type_id, 0) > 0)]
    return min(fitting, key=lambda o: (o.nightly_amount, o.room_type_id), default=None)


def money(amount: int, currency: str) -> dict[str, int | str]:
    return {"amount": amount, "currency": currency}
