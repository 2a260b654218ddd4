"""A payment row's life: its status moves (domain.TRANSITIONS), the answer stored for its key, its outbox rows."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite

from hotelbook_chassis.clock import utcnow
from hotelbook_chassis.problems import problem_body
from hotelbook_chassis.schemas import is_uuid
from hotelbook_chassis.stays import money
from hotelbook_chassis.tracing import current_traceparent
from hotelbook_payments import domain
from hotelbook_payments.actions.metrics import count_status
from hotelbook_payments.models import OutboxJob, Payment, db

Answer = tuple[int, dict[str, Any]]
# The actions work on plain rows with SQL statements of their own: the ORM's unit of work and its
# reload of every attribute after each commit were half of a payment's CPU.
PAYMENTS = Payment.__table__
OUTBOX = OutboxJob.__table__


class Record(SimpleNamespace):
    """One row as plain attributes (a payment or an outbox job); changed only by explicit UPDATEs."""


# Built once: a statement object keeps its cache key, so running it again skips building and keying it.
_BY_ID = select(PAYMENTS).where(PAYMENTS.c.id == bindparam("payment_id"))
_BY_KEY = select(PAYMENTS).where(PAYMENTS.c.user_id == bindparam("user_id"),
                                 PAYMENTS.c.idempotency_key == bindparam("key"))


def _record(row: Any) -> Record | None:
    return Record(**row._mapping) if row is not None else None


def payment_by_id(payment_id: str) -> Record | None:
    if not is_uuid(payment_id):
        return None
    return _record(db.session.execute(_BY_ID, {"payment_id": payment_id}).first())


def payment_by_key(user_id: str, key: str) -> Record | None:
    """The payment claimed with this (guest, Idempotency-Key)."""
    return _record(db.session.execute(_BY_KEY, {"user_id": user_id, "key": key}).first())


def payment_out(payment: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": payment.id, "reservation_id": payment.reservation_id,
        "amount": money(payment.amount, payment.currency) if payment.amount is not None else None,
        "status": payment.status, "bank_reference": payment.bank_reference,
        "card": {"brand": payment.brand, "last4": payment.last4}, "confirmed": bool(payment.confirmed),
        "refunded": None,
    }
    if payment.status == domain.REFUNDED and payment.currency:
        refunded = payment.amount if payment.refunded_amount is None else payment.refunded_amount
        out["refunded"] = money(refunded or 0, payment.currency)
    if payment.decline_reason:
        out["decline_reason"] = payment.decline_reason
    return out


def save(payment: Record, **values: Any) -> None:
    """Change the payment's row (and the record) in the open transaction; ``updated_at`` moves along."""
    values["updated_at"] = utcnow()
    for name, value in values.items():
        setattr(payment, name, value)
    db.session.execute(update(PAYMENTS).where(PAYMENTS.c.id == payment.id).values(**values))


def finish(payment: Record, status: int, body: dict[str, Any]) -> Answer:
    """Store the answer for this key and return it."""
    save(payment, response_status=status, response_body=body)
    db.session.commit()
    return status, body


def mark(payment: Record, status: str, **values: Any) -> None:
    domain.check_transition(payment.status, status)
    count_status(status)
    save(payment, status=status, **values)


def enqueue(payment: Record, kind: str, lease: float = 0) -> None:
    """One job per payment and kind (in the caller's transaction); enqueued again, nothing changes.
    Due now, or after ``lease`` seconds when the caller means to do the work itself first."""
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    db.session.execute(dialect.insert(OUTBOX).values(
        payment_id=payment.id, kind=kind, attempts=0, next_attempt_at=utcnow() + timedelta(seconds=lease),
        created_at=utcnow(), traceparent=current_traceparent(),
    ).on_conflict_do_nothing(index_elements=["payment_id", "kind"]))


def update_job(payment: Record, kind: str, **values: Any) -> None:
    """Change the payment's job of this kind in the open transaction (done, or due now)."""
    db.session.execute(update(OUTBOX).where(OUTBOX.c.payment_id == payment.id, OUTBOX.c.kind == kind)
                       .values(**values))


def hold_expired_answer(payment: Record) -> Answer:
    return 409, problem_body(409, "The hold ended before the payment could confirm it; the charge was refunded.",
                             "hold-expired", payment_id=payment.id)


def release_key(payment: Record) -> None:
    """Nothing was charged and nothing decided: let the guest retry with the same key."""
    db.session.execute(PAYMENTS.delete().where(PAYMENTS.c.id == payment.id))
    db.session.commit()
