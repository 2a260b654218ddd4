"""Search rules in plain Python: city names, the cheapest room that fits, cancellation policies."""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from typing import NamedTuple

from hotelbook_chassis.stays import MAX_NIGHTS, money, nights, stay_errors

__all__ = ["MAX_NIGHTS", "money", "nights", "stay_errors"]

MAX_GUESTS = 10
SORTS = ("name", "stars", "-stars", "price", "-price")


@lru_cache(maxsize=4096)
def city_key(name: str) -> str:
    """``Zürich`` and ``zurich`` share one key: case-folded, accents stripped."""
    decomposed = unicodedata.normalize("NFKD", name.strip())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


class RoomOffer(NamedTuple):
    """A room type as a search prices it (a tuple: a search builds a hundred of them)."""

    room_type_id: str
    capacity: int
    nightly_amount: int
    currency: str
    rooms: int
    refundable: bool = True
    free_cancellation_hours: int = 48
    nights_kept: int = 1


FLEXIBLE, NON_REFUNDABLE = "flexible", "non_refundable"
CHECKIN_TIME = "15:00"  # the hotel's local check-in time: a stay starts then


def cancellation_policy(refundable: bool, free_cancellation_hours: int, nights_kept: int) -> dict[str, object]:
    """A rate's cancellation policy as every service shows and stores it (reservations keeps a copy)."""
    if not refundable:
        return {"kind": NON_REFUNDABLE, "free_cancellation_hours": 0, "nights_kept": 0, "checkin_time": CHECKIN_TIME,
                "description": "Non-refundable: the full price is kept if you cancel."}
    kept = "the first night is" if nights_kept == 1 else f"the first {nights_kept} nights are"
    return {"kind": FLEXIBLE, "free_cancellation_hours": free_cancellation_hours, "nights_kept": nights_kept,
            "checkin_time": CHECKIN_TIME,
            "description": f"Free cancellation until {free_cancellation_hours} hours before check-in "
                           f"({CHECKIN_TIME}, hotel's local time); after that {kept} kept. "
                           "No cancellation once the stay has started."}


def offer_policy(offer: RoomOffer) -> dict[str, object]:
    return cancellation_policy(offer.refundable, offer.free_cancellation_hours, offer.nights_kept)


def cheapest_fitting(offers: list[RoomOffer], guests: int, free: dict[str, int] | None = None) -> RoomOffer | None:
    """The cheapest room type that fits ``guests`` (and, when known, has a free room)."""
    fitting = [o for o in offers if o.capacity >= guests and (free is None or free.get(o.room_type_id, 0) > 0)]
    return min(fitting, key=lambda o: (o.nightly_amount, o.room_type_id), default=None)


