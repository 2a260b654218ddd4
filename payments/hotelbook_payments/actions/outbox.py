"""Step 4, the outbox: work that must happen after a payment commits, leased and retried with backoff."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from hotelbook_chassis.client import PeerUnavailable
from hotelbook_chassis.tracing import continue_trace
from hotelbook_payments import clients
from hotelbook_payments.actions.charge import refund_charge
from hotelbook_payments.actions.mail import send_receipt
from hotelbook_payments.actions.payment import (
    OUTBOX,
    Answer,
    Record,
    enqueue,
    hold_expired_answer,
    payment_by_id,
    payment_out,
    save,
    utcnow,
)
from hotelbook_payments.domain import REFUNDED
from hotelbook_payments.models import db

BATCH = 20


def claim_due(limit: int = BATCH, lease: float = 30, everything: bool = False) -> list[Record]:
    """Jobs due now, leased in one statement so two workers never run the same job at once."""
    now = utcnow()
    cutoff = now + timedelta(days=365) if everything else now
    due = select(OUTBOX.c.id).where(OUTBOX.c.done_at.is_(None), OUTBOX.c.next_attempt_at <= cutoff) \
        .order_by(OUTBOX.c.id).limit(limit)
    ids = list(db.session.scalars(due))
    if not ids:
        db.session.rollback()
        return []
    # The conditions again in the UPDATE: a job another worker leased meanwhile is not taken twice.
    rows = db.session.execute(
        update(OUTBOX).where(OUTBOX.c.id.in_(ids), OUTBOX.c.done_at.is_(None), OUTBOX.c.next_attempt_at <= cutoff)
        .values(next_attempt_at=now + timedelta(seconds=lease))
        .returning(OUTBOX.c.id, OUTBOX.c.payment_id, OUTBOX.c.kind, OUTBOX.c.attempts, OUTBOX.c.traceparent)
    ).all()
    db.session.commit()
    return sorted((Record(**row._mapping) for row in rows), key=lambda job: job.id)


def run_job(job: Record) -> None:
    payment = payment_by_id(job.payment_id)
    try:
        if payment is not None and job.kind == "confirm":
            run_confirm_job(payment)
        elif payment is not None and job.kind == "receipt-mail":
            send_receipt(payment)
        db.session.execute(update(OUTBOX).where(OUTBOX.c.id == job.id).values(done_at=utcnow()))
    except (PeerUnavailable, OSError) as error:
        db.session.rollback()
        attempts = job.attempts + 1
        db.session.execute(update(OUTBOX).where(OUTBOX.c.id == job.id).values(
            attempts=attempts, last_error=f"{type(error).__name__}: {error}"[:500],
            next_attempt_at=utcnow() + timedelta(seconds=min(2 ** attempts, 300))))
    db.session.commit()


def run_confirm_job(payment: Record) -> None:
    answer: Answer
    if payment.confirmed:
        answer = (201, payment_out(payment))
    elif payment.status == REFUNDED:
        answer = hold_expired_answer(payment)
    else:
        response = clients.confirm(payment.reservation_id, payment.id)
        if response.status_code == 200:
            save(payment, confirmed=True)
            enqueue(payment, "receipt-mail")
            answer = (201, payment_out(payment))
        elif response.status_code in (404, 409):
            refund_charge(payment)
            answer = hold_expired_answer(payment)
        else:
            raise PeerUnavailable("reservations")
    if payment.response_status is None:
        # The request that charged died before answering: a retry with its key gets this answer.
        save(payment, response_status=answer[0], response_body=answer[1])


def drain(everything: bool = False, rounds: int = 10) -> int:
    """Run due jobs, batch after batch while batches come back full (bookings may outrun one batch a tick).

    ``everything`` takes jobs waiting out a backoff too, so it makes one round only: a job that
    fails again would be taken again at once.
    """
    done = 0
    for _ in range(1 if everything else rounds):
        jobs = claim_due(everything=everything)
        for job in jobs:
            with continue_trace(job.traceparent, f"outbox {job.kind}", **{"hotelbook.payment_id": job.payment_id}):
                run_job(job)
        done += len(jobs)
        if len(jobs) < BATCH:
            break
    return done
