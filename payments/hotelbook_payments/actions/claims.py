"""Step 1, the claim: one payment row per (guest, Idempotency-Key), with the reservation's amount.

The unique constraint lets one request in; duplicates replay its stored answer, get 409 while
it runs, or 422 for another body; a first attempt that died is finished by the next request.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from hotelbook_chassis import Problem
from hotelbook_chassis.client import PeerUnavailable
from hotelbook_payments.actions.charge import charge_step, read_reservation, run
from hotelbook_payments.actions.metrics import count_status
from hotelbook_payments.actions.payment import PAYMENTS, Answer, Record, payment_by_key, utcnow
from hotelbook_payments.domain import FAILED, PENDING, brand
from hotelbook_payments.models import db


def request_hash(body: dict[str, Any]) -> str:
    # Keyed, because the body holds a card number: a plain hash of it could be brute-forced.
    canonical = json.dumps(body, sort_keys=True, default=str).encode()
    return hmac.new(current_app.config["SECRET_KEY"].encode(), canonical, hashlib.sha256).hexdigest()


def pay(user_id: str, key: str, body: dict[str, Any], bearer: str | None) -> Answer:
    """Read the reservation, then claim the key with the amount in one row (one commit).

    Reading first costs a duplicate request one read and saves every payment a commit.
    The insert still decides: a duplicate's own verdict is never stored, the first
    request's answer is replayed.
    """
    card = body["card"]
    digest = request_hash(body)
    now = utcnow()
    payment = Record(id=str(uuid.uuid4()), user_id=user_id, idempotency_key=key, request_hash=digest,
                     reservation_id=body["reservation_id"], amount=None, currency=None, status=PENDING,
                     bank_reference=None, decline_reason=None, brand=brand(card["number"]),
                     last4=card["number"][-4:], confirmed=False, refunded_amount=None, response_status=None,
                     response_body=None, created_at=now, updated_at=now)
    try:
        verdict = read_reservation(payment, bearer)
    except PeerUnavailable:
        if payment_by_key(user_id, key) is not None:
            return replay(user_id, key, digest, card, bearer)  # a repeated key: its answer, whatever happens now
        raise
    if verdict is not None:
        payment.status, (payment.response_status, payment.response_body) = FAILED, verdict
    try:
        db.session.execute(insert(PAYMENTS).values(**vars(payment)))
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return replay(user_id, key, digest, card, bearer)
    if verdict is not None:
        count_status(FAILED)
        return verdict
    return charge_step(payment, card)


def replay(user_id: str, key: str, digest: str, card: dict[str, Any], bearer: str | None) -> Answer:
    """A repeated key: the same answer for the same body, 422 for another body.

    A key whose first request is still running is answered at once with 409 and
    ``Retry-After`` (draft "The Idempotency-Key HTTP Header Field"): waiting here
    would hold a worker thread per duplicate.
    """
    payment = payment_by_key(user_id, key)
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

