"""The bank's endpoints: charges once per idempotency key, refunds, the ledger."""

from __future__ import annotations

import time
from typing import Any

from flask import Response, current_app
from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from hotelbook_bank.domain import BANK_ERROR, DECLINES, SLOW
from hotelbook_bank.models import Charge, charge_out, db, new_charge_id
from hotelbook_bank.schemas import ChargeIn, ChargeOut, ChargeQuery, LedgerOut, RefundIn
from hotelbook_chassis import Blueprint, Problem
from hotelbook_chassis.cards import brand
from hotelbook_chassis.clock import utcnow
from hotelbook_chassis.database import get_or_404
from hotelbook_chassis.responses import json_response

blp = Blueprint("bank", __name__, description="Bank sandbox")


CHARGES = Charge.__table__


def by_key(key: str) -> Charge | None:
    return db.session.scalar(select(Charge).where(Charge.idempotency_key == key))


# Built once: a statement object keeps its cache key, so running it again skips building and keying it.
_BY_KEY = select(CHARGES).where(CHARGES.c.idempotency_key == bindparam("key"))


def charge_row_by_key(key: str) -> dict[str, Any] | None:
    row = db.session.execute(_BY_KEY, {"key": key}).first()
    return dict(row._mapping) if row is not None else None


@blp.post("/charges")
@blp.arguments(ChargeIn)
@blp.response(201, ChargeOut)
def charge(body: dict[str, Any]) -> Response:
    """Charge a card once per idempotency key."""
    # Plain SQL statements and the JSON written directly: every payment passes here.
    existing = charge_row_by_key(body["idempotency_key"])
    if existing is not None:
        return json_response(charge_out(existing), 201)
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
    return json_response(charge_out(record), 201)


@blp.get("/charges")
@blp.arguments(ChargeQuery, location="query")
@blp.response(200, ChargeOut)
def find_charge(query: dict[str, Any]) -> dict[str, Any]:
    """The charge made with an idempotency key (404 when none)."""
    found = by_key(query["idempotency_key"])
    if found is None:
        raise Problem(404, "No charge with this key.", type="not-found")
    return found.out()


@blp.get("/charges/<charge_id>")
@blp.response(200, ChargeOut)
def get_charge(charge_id: str) -> dict[str, Any]:
    return get_or_404(Charge, charge_id, "No such charge.", max_length=40).out()


@blp.post("/refunds")
@blp.arguments(RefundIn)
@blp.response(200, ChargeOut)
def refund(body: dict[str, Any]) -> dict[str, Any]:
    """Refund a succeeded charge, in full or ``amount`` of it, once; refunding again changes nothing."""
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
    return found.out()


@blp.get("/ledger")
@blp.response(200, LedgerOut)
def ledger() -> dict[str, int]:
    """What the bank really holds: the sums tests compare with confirmed reservations."""
    succeeded = Charge.status == "succeeded"
    charged, charges = db.session.execute(
        select(func.coalesce(func.sum(Charge.amount), 0), func.count()).where(succeeded)).one()
    refunded, refunds = db.session.execute(
        select(func.coalesce(func.sum(func.coalesce(Charge.refunded_amount, Charge.amount)), 0), func.count())
        .where(succeeded, Charge.refunded)).one()
    return {"charged": int(charged), "refunded": int(refunded), "charges": charges, "refunds": refunds}
