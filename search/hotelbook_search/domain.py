"""Search rules in plain Python: city names, the cheapest room that fits."""

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


def cheapest_fitting(offers: list[RoomOffer], guests: int, free: dict[str, int] | None = None) -> RoomOffer | None:
    """The cheapest room type that fits ``guests`` (and, when known, has a free room)."""
    fitting = [o for o in offers if o.capacity >= guests and (free is None or free.get(o.room_type_id, 0) > 0)]
    return min(fitting, key=lambda o: (o.nightly_amount, o.room_type_id), default=None)


