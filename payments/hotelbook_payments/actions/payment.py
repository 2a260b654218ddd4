"""A payment row's life: its status moves (domain.TRANSITIONS), the answer stored for its key, its outbox rows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from hotelbook_chassis.stays import money
from hotelbook_chassis.tracing import current_traceparent
from hotelbook_payments import domain
from hotelbook_payments.actions.metrics import count_status
from hotelbook_payments.models import OutboxJob, Payment, db

Answer = tuple[int, dict[str, Any]]


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def payment_out(payment: Payment) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": payment.id, "reservation_id": payment.reservation_id,
        "amount": money(payment.amount, payment.currency) if payment.amount is not None else None,
        "status": payment.status, "bank_reference": payment.bank_reference,
        "card": {"brand": payment.brand, "last4": payment.last4}, "confirmed": payment.confirmed,
        "refunded": None,
    }
    if payment.status == domain.REFUNDED and payment.currency:
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


def mark(payment: Payment, status: str, **values: Any) -> None:
    domain.check_transition(payment.status, status)
    count_status(status)
    payment.status = status
    for name, value in values.items():
        setattr(payment, name, value)
    payment.updated_at = utcnow()


def enqueue(payment: Payment, kind: str) -> None:
    exists = db.session.scalar(select(OutboxJob).where(OutboxJob.payment_id == payment.id, OutboxJob.kind == kind))
    if exists is None:
        db.session.add(OutboxJob(payment_id=payment.id, kind=kind, attempts=0, next_attempt_at=utcnow(),
                                 created_at=utcnow(), traceparent=current_traceparent()))


def release_key(payment: Payment) -> None:
    """Nothing was charged and nothing decided: let the guest retry with the same key."""
    db.session.delete(payment)
    db.session.commit()
