"""Steps 2 and 3: charge at the bank once (the payment id is the bank's idempotency key), then confirm.

Refunds go through here too: at the bank first, then recorded.
"""

from __future__ import annotations

from typing import Any

from hotelbook_chassis import Problem
from hotelbook_chassis.client import PeerUnavailable
from hotelbook_chassis.schemas import is_uuid
from hotelbook_payments import clients
from hotelbook_payments.actions.payment import (
    Answer,
    enqueue,
    finish,
    mark,
    payment_out,
    problem_body,
    release_key,
    utcnow,
)
from hotelbook_payments.domain import DECLINED, FAILED, REFUNDED, SUCCEEDED
from hotelbook_payments.models import Payment, db


def run(payment: Payment, card: dict[str, Any], bearer: str | None) -> Answer:
    if payment.amount is None:
        try:
            response = clients.reservation(payment.reservation_id, bearer)
        except PeerUnavailable:
            release_key(payment)
            raise
        if response.status_code in (403, 404):
            mark(payment, FAILED)
            return finish(payment, 404, problem_body(404, "No such reservation.", "not-found"))
        if response.status_code != 200:
            release_key(payment)
            raise PeerUnavailable("reservations")
        found = response.json()
        if found.get("user_id") != payment.user_id:  # reservations checks too; never pay for another guest
            mark(payment, FAILED)
            return finish(payment, 404, problem_body(404, "No such reservation.", "not-found"))
        if found["status"] != "held":
            mark(payment, FAILED)
            return finish(payment, 409, problem_body(409, f"The reservation is {found['status']}, not held.",
                                                     "not-payable", status_now=found["status"]))
        payment.amount, payment.currency = found["total"]["amount"], found["total"]["currency"]
        payment.updated_at = utcnow()
        db.session.commit()

    outcome = clients.charge(payment.amount, payment.currency, card, payment.id)
    return after_charge(payment, outcome)


def after_charge(payment: Payment, outcome: clients.BankOutcome) -> Answer:
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
        payment.updated_at = utcnow()
        db.session.commit()
        raise Problem(504, "The bank's answer did not arrive in time. The payment is pending while it is being "
                           "checked with the bank; it will never be charged twice. Look at the reservation in a "
                           "minute, or retry with the same Idempotency-Key.", type="payment-pending",
                      payment_id=payment.id, status_now="pending", headers={"Retry-After": "30"})
    mark(payment, SUCCEEDED, bank_reference=outcome.charge["id"])
    db.session.commit()
    return confirm_step(payment)


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
    if payment.status == REFUNDED:
        return
    refunded = clients.refund(payment.bank_reference or "", amount)
    mark(payment, REFUNDED, refunded_amount=refunded)
    db.session.commit()


def refund(payment_id: str, amount: dict[str, Any] | None = None) -> Payment:
    """Refund what reservations asks (its cancellation policy's amount), or all; asked again, the first answer."""
    payment = db.session.get(Payment, payment_id) if is_uuid(payment_id) else None
    if payment is None:
        raise Problem(404, "No such payment.", type="not-found")
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
