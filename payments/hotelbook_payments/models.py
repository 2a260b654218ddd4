"""Payments, their idempotency keys and the outbox that makes the saga converge."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hotelbook_chassis.database import make_db

db = make_db()


class Payment(db.Model):
    __tablename__ = "payments"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=lambda: str(uuid.uuid4()))
    user_id: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    reservation_id: Mapped[str] = mapped_column(String(36))
    amount: Mapped[int | None] = mapped_column(Integer, nullable=True)
    currency: Mapped[str | None] = mapped_column(String(3), nullable=True)
    status: Mapped[str] = mapped_column(String(12))  # pending|succeeded|declined|failed|refunded
    bank_reference: Mapped[str | None] = mapped_column(String(40), nullable=True)
    decline_reason: Mapped[str | None] = mapped_column(String(40), nullable=True)
    brand: Mapped[str] = mapped_column(String(20))
    last4: Mapped[str] = mapped_column(String(4))
    confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    # What went back to the card: all of it (hold expired) or what the cancellation policy gives back.
    refunded_amount: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # The answer given for this idempotency key, replayed for the same request.
    response_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    response_body: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)

    __table_args__ = (UniqueConstraint("user_id", "idempotency_key", name="uq_payments_user_key"),)


class OutboxJob(db.Model):
    """Work that must happen after a payment commits, retried with backoff until done."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    payment_id: Mapped[str] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(20))  # confirm | receipt-mail
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime)
    done_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # When the job was written (the outbox lag metric), and the W3C traceparent of
    # the request that wrote it: its run joins that trace.
    created_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    traceparent: Mapped[str | None] = mapped_column(String(55), nullable=True)

    __table_args__ = (
        Index("ix_outbox_due", "done_at", "next_attempt_at"),
        UniqueConstraint("payment_id", "kind", name="uq_outbox_payment_kind"),
    )
