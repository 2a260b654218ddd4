"""Step 1, the claim: one payment row per (guest, Idempotency-Key), committed before anything else.

The unique constraint lets one request in; duplicates replay its stored answer, get 409 while
it runs, or 422 for another body; a first attempt that died is finished by the next request.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from hotelbook_chassis import Problem
from hotelbook_payments.actions.charge import run
from hotelbook_payments.actions.payment import Answer, utcnow
from hotelbook_payments.domain import PENDING, brand
from hotelbook_payments.models import Payment, db


def request_hash(body: dict[str, Any]) -> str:
    # Keyed, because the body holds a card number: a plain hash of it could be brute-forced.
    canonical = json.dumps(body, sort_keys=True, default=str).encode()
    return hmac.new(current_app.config["SECRET_KEY"].encode(), canonical, hashlib.sha256).hexdigest()


def pay(user_id: str, key: str, body: dict[str, Any], bearer: str | None) -> Answer:
    card = body["card"]
    digest = request_hash(body)
    payment = Payment(user_id=user_id, idempotency_key=key, request_hash=digest,
                      reservation_id=body["reservation_id"], status=PENDING, brand=brand(card["number"]),
                      last4=card["number"][-4:], created_at=utcnow(), updated_at=utcnow())
    db.session.add(payment)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return replay(user_id, key, digest, card, bearer)
    return run(payment, card, bearer)


def replay(user_id: str, key: str, digest: str, card: dict[str, Any], bearer: str | None) -> Answer:
    """A repeated key: the same answer for the same body, 422 for another body.

    A key whose first request is still running is answered at once with 409 and
    ``Retry-After`` (draft "The Idempotency-Key HTTP Header Field"): waiting here
    would hold a worker thread per duplicate.
    """
    payment = db.session.scalar(select(Payment).where(Payment.user_id == user_id, Payment.idempotency_key == key))
    if payment is None:  # the first attempt gave its key back (nothing was charged): try again
        raise Problem(409, "A request with this Idempotency-Key was just abandoned; retry.", type="retry",
                      headers={"Retry-After": "1"})
    if payment.request_hash != digest:
        raise Problem(422, "This Idempotency-Key was used with another request body.",
                      type="idempotency-key-reused")
    if payment.response_status is not None:
        return payment.response_status, payment.response_body or {}
    if payment.status == PENDING and utcnow() - payment.updated_at > stale_after():
        # The first attempt died or timed out mid-way: finish it (the bank call is idempotent),
        # acting for the guest who asked again, never with the service's wider read.
        if bearer is None:
            raise Problem(401, "A guest token is needed to resume this payment.", type="unauthorized")
        return run(payment, card, bearer)
    raise Problem(409, "A request with this Idempotency-Key is still being processed; retry shortly.",
                  type="in-progress", headers={"Retry-After": "2"}, payment_id=payment.id, status_now=payment.status)


def stale_after() -> timedelta:
    return timedelta(seconds=current_app.config["BANK_TIMEOUT"] * 2 + 5)

