"""Per-night room counts, changed only by conditional UPDATEs.

A hold takes one room on each night of its stay with a single statement that
only touches nights with a room left (``booked < capacity``); when fewer rows
change than the stay has nights, the transaction is rolled back. Concurrent
holds serialise on the rows (PostgreSQL row locks, SQLite's write lock), so two
holds can never both take the last room: no check-then-insert race.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from hotelbook_chassis.stays import each_night, nights
from hotelbook_reservations.models import NightCount, db

NIGHTS = NightCount.__table__


def _insert(table):
    return (postgresql if db.engine.dialect.name == "postgresql" else sqlite).insert(table)


def claim_nights(room_type_id: str, checkin: date, checkout: date, capacity: int) -> bool:
    """Take one room on every night of the stay, or nothing; call inside the hold's transaction."""
    rows = [{"room_type_id": room_type_id, "night": night, "booked": 0, "capacity": capacity}
            for night in each_night(checkin, checkout)]
    db.session.execute(_insert(NIGHTS).on_conflict_do_nothing(), rows)
    in_stay = (NIGHTS.c.room_type_id == room_type_id, NIGHTS.c.night >= checkin, NIGHTS.c.night < checkout)
    # search owns the inventory: follow it when the number of rooms changed.
    db.session.execute(update(NIGHTS).where(*in_stay, NIGHTS.c.capacity != capacity).values(capacity=capacity))
    taken = db.session.execute(
        update(NIGHTS).where(*in_stay, NIGHTS.c.booked < NIGHTS.c.capacity)
        .values(booked=NIGHTS.c.booked + 1)
    ).rowcount
    return taken == nights(checkin, checkout)


def release_nights(room_type_id: str, checkin: date, checkout: date) -> None:
    db.session.execute(
        update(NIGHTS)
        .where(NIGHTS.c.room_type_id == room_type_id, NIGHTS.c.night >= checkin, NIGHTS.c.night < checkout,
               NIGHTS.c.booked > 0)
        .values(booked=NIGHTS.c.booked - 1)
    )


def most_booked(room_type_ids: list[str], checkin: date, checkout: date) -> dict[str, int]:
    """For each room type, the most rooms taken on any night of the stay (one query)."""
    if not room_type_ids:
        return {}
    rows = db.session.execute(
        select(NIGHTS.c.room_type_id, func.max(NIGHTS.c.booked))
        .where(NIGHTS.c.room_type_id.in_(room_type_ids), NIGHTS.c.night >= checkin, NIGHTS.c.night < checkout)
        .group_by(NIGHTS.c.room_type_id)
    )
    return {room_type_id: booked for room_type_id, booked in rows}
