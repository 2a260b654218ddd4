"""Holding, confirming, cancelling and expiring reservations, each in one transaction."""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from types import SimpleNamespace
from typing import Any

from flask import current_app
from sqlalchemy import and_, bindparam, func, insert, select, update
from sqlalchemy.exc import DBAPIError, OperationalError

from hotelbook_chassis import Problem
from hotelbook_chassis.clock import utcnow
from hotelbook_chassis.database import get_or_404
from hotelbook_chassis.problems import invalid
from hotelbook_reservations import clients, domain
from hotelbook_reservations.actions import inventory
from hotelbook_reservations.actions.metrics import BOOKINGS_CONFIRMED, HOLDS_EXPIRED
from hotelbook_reservations.models import Reservation, db, new_id

RETRYABLE_PG_CODES = {"40P01", "40001"}  # deadlock, serialization failure
# Plain SQL statements on the table: the ORM's unit of work and its reload of every attribute
# after a commit were half of a request's CPU on the booking path.
RESERVATIONS = Reservation.__table__
COLUMNS = RESERVATIONS.c


class Record(SimpleNamespace):
    """A reservation row as plain attributes."""


def hold(user_id: str, hotel_id: str, room_type_id: str, checkin: date, checkout: date, guests: int
         ) -> Record:
    """Hold one room for the stay at search's price, or raise 409 when a night is full."""
    hotel = clients.fetch_hotel(hotel_id)  # before any transaction: no lock held while waiting on search
    room_type = next((rt for rt in hotel.get("room_types", []) if rt["id"] == room_type_id), None)
    if room_type is None:
        raise invalid("room_type_id", "This hotel has no such room type.")
    if guests > room_type["capacity"]:
        raise invalid("guests", f"This room type sleeps at most {room_type['capacity']}.")
    price = room_type["nightly_price"]
    for attempt in range(3):
        try:
            return _hold_once(user_id, hotel, room_type, checkin, checkout, guests, price)
        except (OperationalError, DBAPIError) as error:
            db.session.rollback()
            if getattr(error.orig, "sqlstate", None) not in RETRYABLE_PG_CODES or attempt == 2:
                current_app.logger.warning("hold failed on the database: %s", error.orig)
                raise Problem(503, "Too many bookings at once; please try again.", type="busy",
                              headers={"Retry-After": "1"}) from error
    raise AssertionError("unreachable")


def _hold_once(user_id: str, hotel: dict[str, Any], room_type: dict[str, Any], checkin: date, checkout: date,
               guests: int, price: dict[str, Any]) -> Record:
    now = utcnow()
    # Writes first: on SQLite the transaction takes the write lock at once and waits its turn.
    expire_due(COLUMNS.room_type_id == room_type["id"], now=now)
    check_hold_limit(user_id, now)
    if not inventory.claim_nights(room_type["id"], checkin, checkout, int(room_type["rooms"])):
        db.session.rollback()
        raise Problem(409, "No room of this type is free for every night of the stay.", type="no-availability")
    values = dict(
        id=new_id(), user_id=user_id, hotel_id=hotel["id"], room_type_id=room_type["id"], checkin=checkin,
        checkout=checkout, guests=guests, status=domain.HELD, nightly_amount=price["amount"],
        currency=price["currency"], total_amount=domain.stay_total(price["amount"], checkin, checkout),
        hold_expires_at=domain.hold_expiry(now, current_app.config["HOLD_MINUTES"]), created_at=now,
        hotel_name=hotel["name"], hotel_address=hotel.get("address") or "", hotel_city=hotel["city"],
        hotel_country=hotel["country"], room_type_name=room_type["name"],
        vat_percent=domain.usable_vat(hotel.get("vat_percent")),
        cancellation_policy=kept_policy(hotel, room_type), payment_id=None, refunded_amount=None, cancelled_at=None,
    )
    db.session.execute(insert(RESERVATIONS).values(**values))
    db.session.commit()
    return Record(**values)


def kept_policy(hotel: dict[str, Any], room_type: dict[str, Any]) -> dict[str, Any]:
    """The offer's policy as search showed it, with the hotel's zone: what the guest agreed to at hold time."""
    shown = room_type.get("cancellation_policy") or {}
    policy = {name: shown[name] for name in ("kind", "free_cancellation_hours", "nights_kept", "checkin_time",
                                              "description") if name in shown}
    if not policy:  # search without policies: the strictest reading would surprise the guest; be generous
        policy = {"kind": domain.FLEXIBLE, "free_cancellation_hours": 0, "nights_kept": 1,
                  "description": "Free cancellation until the stay starts."}
    return {**policy, "timezone": hotel.get("timezone") or "UTC"}


def check_hold_limit(user_id: str, now: datetime) -> None:
    """409 when the guest already holds as many unpaid rooms as allowed (no hoarding a hotel).

    Inside the hold's transaction: SQLite's write lock serialises holds; on PostgreSQL a
    transaction-scoped advisory lock per guest does, so two holds at once cannot both pass.
    """
    if db.engine.dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(f"holds:{user_id}".encode()).digest()[:8], "big", signed=True)
        db.session.execute(select(func.pg_advisory_xact_lock(key)))
    active = db.session.execute(
        select(func.count(), func.min(COLUMNS.hold_expires_at))
        .where(COLUMNS.user_id == user_id, COLUMNS.status == domain.HELD, COLUMNS.hold_expires_at > now)
    ).one()
    limit = current_app.config["MAX_ACTIVE_HOLDS"]
    if domain.may_hold(active[0], limit):
        return
    db.session.rollback()
    wait = domain.seconds_until(active[1], now)
    raise Problem(409, f"You already hold {active[0]} unpaid rooms, the most one guest may hold at once. Pay for "
                       "or cancel one of them, or wait until a hold expires.", type="too-many-holds",
                  limit=limit, headers={"Retry-After": str(wait)})


def expire_due(*where: Any, now: datetime | None = None) -> int:
    """Expire holds past their time and give their nights back (exactly once: conditional UPDATE)."""
    now = now or utcnow()
    expired = db.session.execute(
        update(RESERVATIONS)
        .where(COLUMNS.status == domain.HELD, COLUMNS.hold_expires_at <= now, *where)
        .values(status=domain.EXPIRED)
        .returning(COLUMNS.room_type_id, COLUMNS.checkin, COLUMNS.checkout)
    ).all()
    for room_type_id, checkin, checkout in expired:
        inventory.release_nights(room_type_id, checkin, checkout)
    HOLDS_EXPIRED.inc(len(expired))
    return len(expired)


def sweep() -> int:
    """Expire every overdue hold (the periodic job)."""
    count = expire_due()
    db.session.commit()
    return count


def _move(reservation: Record, wanted: str, **values: Any) -> bool:
    """Change status only if nobody changed it meanwhile; release nights when leaving a holding status."""
    current = reservation.status
    domain.check_transition(current, wanted)
    conditions = [COLUMNS.id == reservation.id, COLUMNS.status == current]
    if wanted == domain.CONFIRMED:
        conditions.append(COLUMNS.hold_expires_at > utcnow())
    moved = db.session.execute(
        update(RESERVATIONS).where(and_(*conditions)).values(status=wanted, **values)
    ).rowcount
    if moved and domain.releases_nights(current, wanted):
        inventory.release_nights(reservation.room_type_id, reservation.checkin, reservation.checkout)
    return bool(moved)


# Built once: a statement object keeps its cache key, so running it again skips building and keying it.
_BY_ID = select(RESERVATIONS).where(COLUMNS.id == bindparam("reservation_id"))


def _select(reservation_id: str) -> Record | None:
    row = db.session.execute(_BY_ID, {"reservation_id": reservation_id}).first()
    return Record(**row._mapping) if row is not None else None


def load(reservation_id: str, *, user_id: str | None = None, fresh: bool = True) -> Record:
    """The reservation (the owner's only, when ``user_id`` is given), with an overdue hold expired."""
    # Not a UUID: never reaches a query or a peer's URL.
    reservation = get_or_404(_select, reservation_id, "No such reservation.", uuid=True)
    if user_id is not None and reservation.user_id != user_id:
        raise Problem(404, "No such reservation.", type="not-found")
    # Read first, write only for an overdue hold: a write would take SQLite's one write lock on every read.
    if fresh and reservation.status == domain.HELD and reservation.hold_expires_at <= utcnow():
        if expire_due(COLUMNS.id == reservation_id):
            db.session.commit()
        reservation = _select(reservation_id) or reservation
    return reservation


def transition_problem(error: domain.InvalidTransition) -> Problem:
    return Problem(409, str(error), type="invalid-transition", status_now=error.current)


def confirm(reservation_id: str, payment_id: str) -> tuple[Record, bool]:
    """Confirm a held reservation; idempotent for the same payment. Returns (reservation, newly confirmed)."""
    reservation = load(reservation_id)
    if reservation.status == domain.CONFIRMED and reservation.payment_id == payment_id:
        return reservation, False
    try:
        moved = _move(reservation, domain.CONFIRMED, payment_id=payment_id)
    except domain.InvalidTransition as error:
        raise transition_problem(error) from error
    db.session.commit()
    if not moved:  # it changed (or expired) under us: answer from what it is now
        return confirm_after_race(reservation_id, payment_id)
    BOOKINGS_CONFIRMED.inc()
    # The conditional UPDATE changed exactly this: no need to read the row again.
    reservation.status, reservation.payment_id = domain.CONFIRMED, payment_id
    return reservation, True


def confirm_after_race(reservation_id: str, payment_id: str) -> tuple[Record, bool]:
    reservation = load(reservation_id)
    if reservation.status == domain.CONFIRMED and reservation.payment_id == payment_id:
        return reservation, False
    if reservation.status == domain.HELD:  # expired by the clock but not yet swept
        expire_due(COLUMNS.id == reservation_id, now=reservation.hold_expires_at)
        db.session.commit()
        reservation = load(reservation_id, fresh=False)
    raise Problem(409, f"A {reservation.status} reservation cannot become confirmed.", type="invalid-transition",
                  status_now=reservation.status)


def cancel(reservation_id: str, user_id: str) -> Record:
    """Cancel the guest's reservation under its policy: payments refunds exactly what the policy gives back.

    409 once the stay has started; 503 when payments cannot refund (it stays confirmed and paid).
    """
    reservation = load(reservation_id, user_id=user_id)
    try:
        domain.check_transition(reservation.status, domain.CANCELLED)
    except domain.InvalidTransition as error:
        raise transition_problem(error) from error
    values: dict[str, Any] = {"cancelled_at": utcnow()}
    if reservation.status == domain.CONFIRMED:
        policy = domain.CancellationPolicy.from_json(reservation.cancellation_policy)
        try:
            refund, _ = domain.cancellation_terms(policy, reservation.total_amount, reservation.nightly_amount,
                                                  reservation.checkin, reservation.checkout, utcnow())
        except domain.StayStarted as error:
            local = policy.local(error.starts_at).strftime("%Y-%m-%d %H:%M")
            raise Problem(409, f"The stay started on {local} (hotel's local time): a reservation can no longer be "
                               "cancelled once the stay has started.", type="stay-started",
                          status_now=reservation.status) from error
        if reservation.payment_id and refund > 0:
            # Money first: if the refund cannot be made, the room stays booked and paid, consistently.
            # Payments answers with what it really refunded (the first amount, when asked again).
            refund = clients.refund(reservation.payment_id, refund, reservation.currency)
        values["refunded_amount"] = refund if reservation.payment_id else None
    if not _move(reservation, domain.CANCELLED, **values):
        db.session.rollback()
        reservation = load(reservation_id, user_id=user_id)
        if reservation.status != domain.CANCELLED:
            raise Problem(409, "The reservation changed meanwhile; please reload it.", type="invalid-transition",
                          status_now=reservation.status)
    db.session.commit()
    return load(reservation_id, user_id=user_id, fresh=False)


def list_for(user_id: str, after: dict[str, Any] | None, limit: int) -> list[Record]:
    if expire_due(COLUMNS.user_id == user_id):
        db.session.commit()
    statement = select(RESERVATIONS).where(COLUMNS.user_id == user_id)
    if after:
        from sqlalchemy import tuple_

        position = (datetime.fromisoformat(after["created_at"]), after["id"])
        statement = statement.where(tuple_(COLUMNS.created_at, COLUMNS.id) < position)
    statement = statement.order_by(COLUMNS.created_at.desc(), COLUMNS.id.desc()).limit(limit)
    return [Record(**row._mapping) for row in db.session.execute(statement)]


def availability(checkin: date, checkout: date, inventory_by_type: dict[str, int]) -> dict[str, int]:
    booked = inventory.most_booked(list(inventory_by_type), checkin, checkout)
    return {rt: max(rooms - booked.get(rt, 0), 0) for rt, rooms in inventory_by_type.items()}
