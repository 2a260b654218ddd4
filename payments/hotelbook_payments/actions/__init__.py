"""Paying for a reservation: claim the key, charge once, confirm, and converge after any failure.

Steps and what makes each safe to repeat:

1. *Claim*: a payment row keyed by (guest, Idempotency-Key) is committed first;
   the unique constraint lets one request in, duplicates replay its answer.
2. *Charge*: the bank is asked with the payment's id as its idempotency key, so
   asking again (a retry, ``reconcile`` after a crash) never charges twice.
3. *Confirm*: reservations' confirm is idempotent for the same payment. When it
   cannot be reached, an outbox job retries it with backoff; when the hold has
   expired meanwhile (409), the charge is refunded.
4. *Receipt mail*: an outbox job, so a mail outage only delays it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from hotelbook_chassis import Problem
from hotelbook_chassis.client import PeerUnavailable
from hotelbook_chassis.schemas import is_uuid
from hotelbook_chassis.stays import money
from hotelbook_chassis.tracing import continue_trace, current_traceparent
from hotelbook_payments import clients
from hotelbook_payments.actions.metrics import count_status
from hotelbook_payments.domain import brand
from hotelbook_payments.models import OutboxJob, Payment, db

Answer = tuple[int, dict[str, Any]]


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def request_hash(body: dict[str, Any]) -> str:
    # Keyed, because the body holds a card number: a plain hash of it could be brute-forced.
    canonical = json.dumps(body, sort_keys=True, default=str).encode()
    return hmac.new(current_app.config["SECRET_KEY"].encode(), canonical, hashlib.sha256).hexdigest()


def payment_out(payment: Payment) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": payment.id, "reservation_id": payment.reservation_id,
        "amount": money(payment.amount, payment.currency) if payment.amount is not None else None,
        "status": payment.status, "bank_reference": payment.bank_reference,
        "card": {"brand": payment.brand, "last4": payment.last4}, "confirmed": payment.confirmed,
        "refunded": None,
    }
    if payment.status == "refunded" and payment.currency:
        refunded = payment.amount if payment.refunded_amount is None else payment.refunded_amount
        out["refunded"] = money(refunded or 0, payment.currency)
    if payment.decline_reason:
        out["decline_reason"] = payment.decline_reason
    return out


def problem_body(status: int, detail: str, slug: str, **extra: Any) -> dict[str, Any]:
    return {"type": f"urn:problem:hotelbook:{slug}", "title": {402: "Payment Required", 404: "Not Found",
            409: "Conflict", 502: "Bad Gateway", 504: "Gateway Timeout"}.get(status, "Error"),
            "status": status, "detail": detail, **extra}


def finish(payment: Payment, status: int, body: dict[str, Any]) -> Answer:
    """Store the answer for this key and return it."""
    payment.response_status, payment.response_body, payment.updated_at = status, body, utcnow()
    db.session.commit()
    return status, body


# --- 1. claim -----------------------------------------------------------------------


def pay(user_id: str, key: str, body: dict[str, Any], bearer: str | None) -> Answer:
    card = body["card"]
    digest = request_hash(body)
    payment = Payment(user_id=user_id, idempotency_key=key, request_hash=digest,
                      reservation_id=body["reservation_id"], status="pending", brand=brand(card["number"]),
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
    if payment.status == "pending" and utcnow() - payment.updated_at > stale_after():
        # The first attempt died or timed out mid-way: finish it (the bank call is idempotent),
        # acting for the guest who asked again, never with the service's wider read.
        if bearer is None:
            raise Problem(401, "A guest token is needed to resume this payment.", type="unauthorized")
        return run(payment, card, bearer)
    raise Problem(409, "A request with this Idempotency-Key is still being processed; retry shortly.",
                  type="in-progress", headers={"Retry-After": "2"}, payment_id=payment.id, status_now=payment.status)


def stale_after() -> timedelta:
    return timedelta(seconds=current_app.config["BANK_TIMEOUT"] * 2 + 5)


def release_key(payment: Payment) -> None:
    """Nothing was charged and nothing decided: let the guest retry with the same key."""
    db.session.delete(payment)
    db.session.commit()


# --- 2. charge ----------------------------------------------------------------------


def run(payment: Payment, card: dict[str, Any], bearer: str | None) -> Answer:
    if payment.amount is None:
        try:
            response = clients.reservation(payment.reservation_id, bearer)
        except PeerUnavailable:
            release_key(payment)
            raise
        if response.status_code in (403, 404):
            mark(payment, "failed")
            return finish(payment, 404, problem_body(404, "No such reservation.", "not-found"))
        if response.status_code != 200:
            release_key(payment)
            raise PeerUnavailable("reservations")
        found = response.json()
        if found.get("user_id") != payment.user_id:  # reservations checks too; never pay for another guest
            mark(payment, "failed")
            return finish(payment, 404, problem_body(404, "No such reservation.", "not-found"))
        if found["status"] != "held":
            mark(payment, "failed")
            return finish(payment, 409, problem_body(409, f"The reservation is {found['status']}, not held.",
                                                     "not-payable", status_now=found["status"]))
        payment.amount, payment.currency = found["total"]["amount"], found["total"]["currency"]
        payment.updated_at = utcnow()
        db.session.commit()

    outcome = clients.charge(payment.amount, payment.currency, card, payment.id)
    if outcome.kind == "succeeded" and os.environ.get("PAYMENTS_FAULT") == "exit-after-charge":
        os._exit(137)  # test-only: a crash between the bank and our own commit
    return after_charge(payment, outcome)


def mark(payment: Payment, status: str, **values: Any) -> None:
    count_status(status)
    payment.status = status
    for name, value in values.items():
        setattr(payment, name, value)
    payment.updated_at = utcnow()


def after_charge(payment: Payment, outcome: clients.BankOutcome) -> Answer:
    if outcome.kind == "declined":
        mark(payment, "declined", bank_reference=outcome.charge.get("id"),
             decline_reason=outcome.charge.get("decline_reason") or "declined")
        return finish(payment, 402, problem_body(402, "The card was declined.", "card-declined",
                                                 decline_reason=payment.decline_reason, payment_id=payment.id))
    if outcome.kind == "error":
        mark(payment, "failed")
        return finish(payment, 502, problem_body(502, "The bank could not process the payment.", "bank-error",
                                                 payment_id=payment.id))
    if outcome.kind == "unknown":
        # The bank may have charged (answer lost after sending): never a failure. Stay pending
        # with no stored answer; a retry with the same key or reconcile asks the bank by key.
        payment.updated_at = utcnow()
        db.session.commit()
        raise Problem(504, "The bank's answer did not arrive in time. The payment is pending while it is being "
                           "checked with the bank; it will never be charged twice. Look at the reservation in a "
                           "minute, or retry with the same Idempotency-Key.", type="payment-pending",
                      payment_id=payment.id, status_now="pending", headers={"Retry-After": "30"})
    mark(payment, "succeeded", bank_reference=outcome.charge["id"])
    db.session.commit()
    return confirm_step(payment)


# --- 3. confirm ---------------------------------------------------------------------


def confirm_step(payment: Payment) -> Answer:
    try:
        response = clients.confirm(payment.reservation_id, payment.id)
    except PeerUnavailable:
        response = None
    if response is not None and response.status_code == 200:
        payment.confirmed = True
        enqueue(payment, "receipt-mail")
        return finish(payment, 201, payment_out(payment))
    if response is not None and response.status_code in (404, 409):
        refund_charge(payment)
        return finish(payment, 409, problem_body(409, "The hold ended before the payment could confirm it; the "
                                                      "charge was refunded.", "hold-expired", payment_id=payment.id))
    # Reservations unreachable: the outbox will confirm it (or refund if the hold expires).
    enqueue(payment, "confirm")
    return finish(payment, 201, payment_out(payment))


def refund_charge(payment: Payment, amount: int | None = None) -> None:
    """Refund at the bank (all, or ``amount``; idempotent: a payment is refunded once) and record it."""
    if payment.status == "refunded":
        return
    refunded = clients.refund(payment.bank_reference or "", amount)
    mark(payment, "refunded", refunded_amount=refunded)
    db.session.commit()


def refund(payment_id: str, amount: dict[str, Any] | None = None) -> Payment:
    """Refund what reservations asks (its cancellation policy's amount), or all; asked again, the first answer."""
    payment = db.session.get(Payment, payment_id) if is_uuid(payment_id) else None
    if payment is None:
        raise Problem(404, "No such payment.", type="not-found")
    if payment.status not in ("succeeded", "refunded"):
        raise Problem(409, f"A {payment.status} payment cannot be refunded.", type="not-refundable",
                      status_now=payment.status)
    if amount is not None and payment.status != "refunded" and (
            amount["currency"] != payment.currency or amount["amount"] > (payment.amount or 0)):
        raise Problem(422, "A refund must be in the payment's currency and at most its amount.",
                      type="refund-too-large", invalid_params=[{"name": "amount", "reason": "more than was paid"}])
    try:
        refund_charge(payment, amount["amount"] if amount else None)
    except PeerUnavailable as error:
        raise Problem(502, "The bank could not refund right now; retry.", type="bank-error") from error
    return payment


# --- 4. outbox ----------------------------------------------------------------------


def enqueue(payment: Payment, kind: str) -> None:
    exists = db.session.scalar(select(OutboxJob).where(OutboxJob.payment_id == payment.id, OutboxJob.kind == kind))
    if exists is None:
        db.session.add(OutboxJob(payment_id=payment.id, kind=kind, attempts=0, next_attempt_at=utcnow(),
                                 created_at=utcnow(), traceparent=current_traceparent()))


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
    if payment.confirmed or payment.status == "refunded":
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


def send_receipt(payment: Payment) -> None:
    import smtplib

    from hotelbook_chassis.mail import SmtpSettings, build_message, send_mail

    guest = clients.user(payment.user_id)
    settings = SmtpSettings.from_env()
    text = (f"Hello {guest.get('name', '')},\n\nthank you for your booking. We received your payment of "
            f"{payment.amount / 100:.2f} {payment.currency} ({payment.brand} ending {payment.last4}).\n\n"
            f"Payment: {payment.id}\nReservation: {payment.reservation_id}\n\n"
            "Your receipt (PDF), also in My reservations:\n"
            f"{current_app.config['PUBLIC_URL'].rstrip('/')}/reservations/{payment.reservation_id}/receipt.pdf\n")
    try:
        send_mail(settings, build_message(settings, guest["email"], "Your hotelbook receipt", text))
    except smtplib.SMTPException as error:
        raise OSError(str(error)) from error


def drain(everything: bool = False) -> int:
    done = 0
    for job in claim_due(everything=everything):
        with continue_trace(job.traceparent, f"outbox {job.kind}", **{"hotelbook.payment_id": job.payment_id}):
            run_job(job)
        done += 1
    return done


def reconcile(older_than: float | None = None, every_job: bool = True) -> dict[str, int]:
    """Finish what a crash, an outage or a lost bank answer left half-done.

    A pending payment is asked about at the bank by its idempotency key and ends
    confirmed (or refunded when its hold is gone) or failed (the bank has no charge).
    ``every_job`` also runs outbox jobs waiting out a backoff or a lease: right for
    the CLI after a crash, wrong beside live outbox workers (the periodic round).
    """
    resumed = 0
    stale = utcnow() - (stale_after() if older_than is None else timedelta(seconds=older_than))
    for payment in db.session.scalars(select(Payment).where(Payment.status == "pending",
                                                            Payment.updated_at < stale)).all():
        resumed += 1
        resume_pending(payment)
    return {"resumed": resumed, "jobs": drain(everything=every_job)}


def resume_pending(payment: Payment) -> None:
    """A payment whose charge outcome is unknown: ask the bank by its key."""
    if payment.amount is None:  # never reached the bank
        mark(payment, "failed")
        finish(payment, 502, problem_body(502, "The payment was interrupted before charging; nothing was "
                                               "charged.", "interrupted", payment_id=payment.id))
        return
    try:
        found = clients.charge_by_key(payment.id)
    except PeerUnavailable:
        return
    if found is None:
        mark(payment, "failed")
        finish(payment, 502, problem_body(502, "The bank has no charge for this payment; nothing was charged.",
                                          "interrupted", payment_id=payment.id))
        return
    after_charge(payment, clients.BankOutcome(found["status"] if found["status"] != "refunded" else "succeeded",
                                              found))
