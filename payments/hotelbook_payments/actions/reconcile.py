"""Converging: finish what a crash, an outage or a lost bank answer left half-done."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from hotelbook_chassis.client import PeerUnavailable
from hotelbook_chassis.problems import problem_body
from hotelbook_payments import clients
from hotelbook_payments.actions import claims
from hotelbook_payments.actions.charge import after_charge
from hotelbook_payments.actions.outbox import drain
from hotelbook_payments.actions.payment import PAYMENTS, Record, finish, mark, utcnow
from hotelbook_payments.domain import FAILED, PENDING
from hotelbook_payments.models import db


def reconcile(older_than: float | None = None, every_job: bool = True) -> dict[str, int]:
    """Finish what a crash, an outage or a lost bank answer left half-done.

    A pending payment is asked about at the bank by its idempotency key and ends
    confirmed (or refunded when its hold is gone) or failed (the bank has no charge).
    ``every_job`` also runs outbox jobs waiting out a backoff or a lease: right for
    the CLI after a crash, wrong beside live outbox workers (the periodic round).
    """
    resumed = 0
    stale = utcnow() - (claims.stale_after() if older_than is None else timedelta(seconds=older_than))
    pending = db.session.execute(select(PAYMENTS).where(PAYMENTS.c.status == PENDING,
                                                        PAYMENTS.c.updated_at < stale)).all()
    for row in pending:
        resumed += 1
        resume_pending(Record(**row._mapping))
    return {"resumed": resumed, "jobs": drain(everything=every_job)}


def resume_pending(payment: Record) -> None:
    """A payment whose charge outcome is unknown: ask the bank by its key."""
    if payment.amount is None:  # never reached the bank
        mark(payment, FAILED)
        finish(payment, 502, problem_body(502, "The payment was interrupted before charging; nothing was "
                                               "charged.", "interrupted", payment_id=payment.id))
        return
    try:
        found = clients.charge_by_key(payment.id)
    except PeerUnavailable:
        return
    if found is None:
        mark(payment, FAILED)
        finish(payment, 502, problem_body(502, "The bank has no charge for this payment; nothing was charged.",
                                          "interrupted", payment_id=payment.id))
        return
    after_charge(payment, clients.BankOutcome(found["status"] if found["status"] != "refunded" else "succeeded",
                                              found))
