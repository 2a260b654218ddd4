"""The bank's use cases: charge once per idempotency key, look a charge up, refund it once, sum the ledger."""

from __future__ import annotations

import time
from typing import Any

from flask import current_app
from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from hotelbook_bank.domain import BANK_ERROR, DECLINES, SLOW
from hotelbook_bank.models import Charge, charge_out, db, new_charge_id
from hotelbook_chassis import Problem
from hotelbook_chassis.cards import brand
from hotelbook_chassis.clock import utcnow
from hotelbook_chassis.database import get_or_404

CHARGES = Charge.__table__


def by_key(key: str) -> Charge | None:
    return db.session.scalar(select(Charge).where(Charge.idempotency_key == key))


# Built once: a statement object keeps its cache key, so running it again skips building and keying it.
_BY_KEY = select(CHARGES).where(CHARGES.c.idempotency_key == bindparam("key"))


def charge_row_by_key(key: str) -> dict[str, Any] | None:
    row = db.session.execute(_BY_KEY, {"key": key}).first()
    return dict(row._mapping) if row is not None else None


def charge(body: dict[str, Any]) -> dict[str, Any]:
    """The charge for this idempotency key: the one made before, or a new one (its answer, as JSON data)."""
    # Plain SQL statements: every payment passes here.
    existing = charge_row_by_key(body["idempotency_key"])
    if existing is not None:
        return charge_out(existing)
    number = body["card"]["number"]
    if number == BANK_ERROR:
        raise Problem(500, "The bank had an internal error.", type="bank-error")
    declined = DECLINES.get(number)
    record = {"id": new_charge_id(), "idempotency_key": body["idempotency_key"], "amount": body["amount"],
              "currency": body["currency"], "brand": brand(number), "last4": number[-4:],
              "status": "declined" if declined else "succeeded", "decline_reason": declined, "refunded": False,
              "refunded_amount": None, "created_at": utcnow()}
    try:
        db.session.execute(insert(CHARGES).values(**record))
        db.session.commit()
    except IntegrityError:  # the same key raced in: that charge is the answer
        db.session.rollback()
        record = charge_row_by_key(body["idempotency_key"]) or record
    if number == SLOW:
        # Charged at once, answered late: the answer a client may lose to its read timeout.
        time.sleep(current_app.config["BANK_SLOW_SECONDS"])
    return charge_out(record)


def find_charge(key: str) -> Charge:
    found = by_key(key)
    if found is None:
        raise Problem(404, "No charge with this key.", type="not-found")
    return found


def get_charge(charge_id: str) -> Charge:
    return get_or_404(Charge, charge_id, "No such charge.", max_length=40)


def refund(body: dict[str, Any]) -> Charge:
    found = get_or_404(Charge, body["charge_id"], "No such charge.", max_length=40)
    if found.status != "succeeded":
        raise Problem(409, "Only a succeeded charge can be refunded.", type="not-refundable")
    amount = body.get("amount", found.amount)
    if amount > found.amount:
        raise Problem(422, "A refund cannot exceed the charge.", type="refund-too-large")
    db.session.execute(update(Charge).where(Charge.id == found.id, Charge.refunded.is_(False))
                       .values(refunded=True, refunded_amount=amount))
    db.session.commit()
    db.session.refresh(found)
    return found


def ledger() -> dict[str, int]:
    succeeded = Charge.status == "succeeded"
    charged, charges = db.session.execute(
        select(func.coalesce(func.sum(Charge.amount), 0), func.count()).where(succeeded)).one()
    refunded, refunds = db.session.execute(
        select(func.coalesce(func.sum(func.coalesce(Charge.refunded_amount, Charge.amount)), 0), func.count())
        .where(succeeded, Charge.refunded)).one()
    return {"charged": int(charged), "refunded": int(refunded), "charges": charges, "refunds": refunds}
