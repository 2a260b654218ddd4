"""Step 4, the outbox: work that must happen after a payment commits, leased and retried with backoff."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from hotelbook_chassis.client import PeerUnavailable
from hotelbook_chassis.tracing import continue_trace
from hotelbook_payments import clients
from hotelbook_payments.actions.charge import refund_charge
from hotelbook_payments.actions.mail import send_receipt
from hotelbook_payments.actions.payment import enqueue, utcnow
from hotelbook_payments.domain import REFUNDED
from hotelbook_payments.models import OutboxJob, Payment, db


def claim_due(limit: int = 20, lease: float = 30, everything: bool = False) -> list[OutboxJob]:
    """Jobs due now, leased so two workers never run the same job at once."""
    now = utcnow()
    due = [OutboxJob.done_at.is_(None)] + ([] if everything else [OutboxJob.next_attempt_at <= now])
    ids = list(db.session.scalars(select(OutboxJob.id).where(*due).order_by(OutboxJob.id).limit(limit)))
    claimed = []
    for job_id in ids:
        leased = db.session.execute(
            update(OutboxJob).where(OutboxJob.id == job_id, OutboxJob.done_at.is_(None),
                                    OutboxJob.next_attempt_at <= (now + timedelta(days=365) if everything else now))
            .values(next_attempt_at=now + timedelta(seconds=lease))).rowcount
        db.session.commit()
        if leased:
            claimed.append(db.session.get(OutboxJob, job_id))
    return claimed


def run_job(job: OutboxJob) -> None:
    payment = db.session.get(Payment, job.payment_id)
    try:
        if job.kind == "confirm":
            run_confirm_job(payment)
        elif job.kind == "receipt-mail":
            send_receipt(payment)
        job.done_at = utcnow()
    except (PeerUnavailable, OSError) as error:
        db.session.rollback()
        job = db.session.get(OutboxJob, job.id)
        job.attempts += 1
        job.last_error = f"{type(error).__name__}: {error}"[:500]
        job.next_attempt_at = utcnow() + timedelta(seconds=min(2 ** job.attempts, 300))
    db.session.commit()


def run_confirm_job(payment: Payment) -> None:
    if payment.confirmed or payment.status == REFUNDED:
        return
    response = clients.confirm(payment.reservation_id, payment.id)
    if response.status_code == 200:
        payment.confirmed = True
        enqueue(payment, "receipt-mail")
    elif response.status_code in (404, 409):
        refund_charge(payment)
    else:
        raise PeerUnavailable("reservations")
    payment.updated_at = utcnow()


def drain(everything: bool = False) -> int:
    done = 0
    for job in claim_due(everything=everything):
        with continue_trace(job.traceparent, f"outbox {job.kind}", **{"hotelbook.payment_id": job.payment_id}):
            run_job(job)
        done += 1
    return done
