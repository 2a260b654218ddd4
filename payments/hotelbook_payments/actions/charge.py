"""Steps 2 and 3: charge at the bank once (the payment id is the bank's idempotency key), then confirm.

Refunds go through here too: at the bank first, then recorded.
"""

from __future__ import annotations

from typing import Any

from hotelbook_chassis import Problem
from hotelbook_chassis.client import PeerUnavailable
from hotelbook_chassis.database import get_or_404
from hotelbook_chassis.problems import problem_body
from hotelbook_payments import clients
from hotelbook_payments.actions.payment import (
    Answer,
    Record,
    enqueue,
    finish,
    hold_expired_answer,
    mark,
    payment_by_id,
    payment_out,
    release_key,
    save,
    update_job,
    utcnow,
)
from hotelbook_payments.domain import DECLINED, FAILED, REFUNDED, SUCCEEDED
from hotelbook_payments.models import db


def read_reservation(payment: Record, bearer: str | None) -> Answer | None:
    """Take the amount from reservations; an answer when it cannot be paid (raises when unreachable)."""
    response = clients.reservation(payment.reservation_id, bearer)
    if response.status_code in (403, 404):
        return 404, problem_body(404, "No such reservation.", "not-found")
    if response.status_code != 200:
        raise PeerUnavailable("reservations")
    found = response.json()
    if found.get("user_id") != payment.user_id:  # reservations checks too; never pay for another guest
        return 404, problem_body(404, "No such reservation.", "not-found")
    if found["status"] != "held":
        return 409, problem_body(409, f"The reservation is {found['status']}, not held.", "not-payable",
                                 status_now=found["status"])
    payment.amount, payment.currency = found["total"]["amount"], found["total"]["currency"]
    return None


def run(payment: Record, card: dict[str, Any], bearer: str | None) -> Answer:
    """Resume a claimed payment (a repeated key whose first attempt died)."""
    if payment.amount is None:  # claimed before its amount was known (a row of an older version)
        try:
            verdict = read_reservation(payment, bearer)
        except PeerUnavailable:
            release_key(payment)
            raise
        if verdict is not None:
            mark(payment, FAILED)
            return finish(payment, *verdict)
        save(payment, amount=payment.amount, currency=payment.currency)
        db.session.commit()
    return charge_step(payment, card)


def charge_step(payment: Record, card: dict[str, Any]) -> Answer:
    outcome = clients.charge(payment.amount, payment.currency, card, payment.id)
    return after_charge(payment, outcome)


def after_charge(payment: Record, outcome: clients.BankOutcome) -> Answer:
    if outcome.kind == "declined":
        mark(payment, DECLINED, bank_reference=outcome.charge.get("id"),
             decline_reason=outcome.charge.get("decline_reason") or "declined")
        return finish(payment, 402, problem_body(402, "The card was declined.", "card-declined",
                                                 decline_reason=payment.decline_reason, payment_id=payment.id))
    if outcome.kind == "error":
        mark(payment, FAILED)
        return finish(payment, 502, problem_body(502, "The bank could not process the payment.", "bank-error",
                                                 payment_id=payment.id))
    if outcome.kind == "unknown":
        # The bank may have charged (answer lost after sending): never a failure. Stay pending
        # with no stored answer; a retry with the same key or reconcile asks the bank by key.
        save(payment)
        db.session.commit()
        raise Problem(504, "The bank's answer did not arrive in time. The payment is pending while it is being "
                           "checked with the bank; it will never be charged twice. Look at the reservation in a "
                           "minute, or retry with the same Idempotency-Key.", type="payment-pending",
                      payment_id=payment.id, status_now="pending", headers={"Retry-After": "30"})
    # Committed before confirming: from here on reconcile leaves it alone (it resumes pending ones only).
    mark(payment, SUCCEEDED, bank_reference=outcome.charge["id"])
    # The charge and the duty to confirm it commit together (transactional outbox): if this
    # process dies before the confirm below ends, the job confirms (or refunds) once its lease
    # runs out. Without it, a charge whose process died here was never confirmed nor refunded.
    enqueue(payment, "confirm", lease=CONFIRM_LEASE)
    db.session.commit()
    return confirm_step(payment)


# Seconds the request that charged has to confirm inline before the outbox job may: more
# than the confirm call's retries take.
CONFIRM_LEASE = 30


def confirm_step(payment: Record) -> Answer:
    """Confirm inline; the payment's confirm job (committed with the charge) is closed, or made due now."""
    try:
        response = clients.confirm(payment.reservation_id, payment.id)
    except PeerUnavailable:
        response = None
    if response is not None and response.status_code == 200:
        save(payment, confirmed=True)
        update_job(payment, "confirm", done_at=utcnow())
        enqueue(payment, "receipt-mail")
        return finish(payment, 201, payment_out(payment))
    if response is not None and response.status_code in (404, 409):
        refund_charge(payment)
        update_job(payment, "confirm", done_at=utcnow())
        return finish(payment, *hold_expired_answer(payment))
    # Reservations unreachable: the outbox will confirm it (or refund if the hold expires), from now on.
    update_job(payment, "confirm", next_attempt_at=utcnow())
    return finish(payment, 201, payment_out(payment))


def refund_charge(payment: Record, amount: int | None = None) -> None:
    """Refund at the bank (all, or ``amount``; idempotent: a payment is refunded once) and record it."""
    if payment.status == REFUNDED:
        return
    refunded = clients.refund(payment.bank_reference or "", amount)
    mark(payment, REFUNDED, refunded_amount=refunded)
    db.session.commit()


def refund(payment_id: str, amount: dict[str, Any] | None = None) -> Record:
    """Refund what reservations asks (its cancellation policy's amount), or all; asked again, the first answer."""
    payment = get_or_404(payment_by_id, payment_id, "No such payment.", uuid=True)
    if payment.status not in (SUCCEEDED, REFUNDED):
        raise Problem(409, f"A {payment.status} payment cannot be refunded.", type="not-refundable",
                      status_now=payment.status)
    if amount is not None and payment.status != REFUNDED and (
            amount["currency"] != payment.currency or amount["amount"] > (payment.amount or 0)):
        raise Problem(422, "A refund must be in the payment's currency and at most its amount.",
                      type="refund-too-large", invalid_params=[{"name": "amount", "reason": "more than was paid"}])
    try:
        refund_charge(payment, amount["amount"] if amount else None)
    except PeerUnavailable as error:
        raise Problem(502, "The bank could not refund right now; retry.", type="bank-error") from error
    return payment
