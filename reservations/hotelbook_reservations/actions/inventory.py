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


def _insert(table):
    return (postgresql if db.engine.dialect.name == "postgresql" else sqlite).insert(table)


def claim_nights(room_type_id: str, checkin: date, checkout: date, capacity: int) -> bool:
    """Take one room on every night of the stay, or nothing; call inside the hold's transaction."""
    rows = [{"room_type_id": room_type_id, "night": night, "booked": 0, "capacity": capacity}
            for night in each_night(checkin, checkout)]
    db.session.execute(_insert(NightCount.__table__).on_conflict_do_nothing(), rows)
    in_stay = (NightCount.room_type_id == room_type_id, NightCount.night >= checkin, NightCount.night < checkout)
    # search owns the inventory: follow it when the number of rooms changed.
    db.session.execute(update(NightCount).where(*in_stay, NightCount.capacity != capacity).values(capacity=capacity))
    taken = db.session.execute(
        update(NightCount).where(*in_stay, NightCount.booked < NightCount.capacity)
        .values(booked=NightCount.booked + 1)
    ).rowcount
    return taken == nights(checkin, checkout)


def release_nights(room_type_id: str, checkin: date, checkout: date) -> None:
    db.session.execute(
        update(NightCount)
        .where(NightCount.room_type_id == room_type_id, NightCount.night >= checkin, NightCount.night < checkout,
               NightCount.booked > 0)
        .values(booked=NightCount.booked - 1)
    )


def most_booked(room_type_ids: list[str], checkin: date, checkout: date) -> dict[str, int]:
    """For each room type, the most rooms taken on any night of the stay (one query)."""
    if not room_type_ids:
        return {}
    rows = db.session.execute(
        select(NightCount.room_type_id, func.max(NightCount.booked))
        .where(NightCount.room_type_id.in_(room_type_ids), NightCount.night >= checkin, NightCount.night < checkout)
        .group_by(NightCount.room_type_id)
    )
    return {room_type_id: booked for room_type_id, booked in rows}
