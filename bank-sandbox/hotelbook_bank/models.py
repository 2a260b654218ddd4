"""The bank's own ledger."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hotelbook_chassis.database import make_db

db = make_db()


class Charge(db.Model):
    __tablename__ = "charges"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: f"ch_{uuid.uuid4().hex}")
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    amount: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    brand: Mapped[str] = mapped_column(String(20))
    last4: Mapped[str] = mapped_column(String(4))
    status: Mapped[str] = mapped_column(String(12))  # succeeded | declined
    decline_reason: Mapped[str | None] = mapped_column(String(40), nullable=True)
    refunded: Mapped[bool] = mapped_column(Boolean, default=False)
    refunded_amount: Mapped[int | None] = mapped_column(Integer, nullable=True)  # a refund may be partial
    created_at: Mapped[datetime] = mapped_column(DateTime)

    def out(self) -> dict[str, object]:
        return {"id": self.id, "idempotency_key": self.idempotency_key, "amount": self.amount,
                "currency": self.currency, "status": "refunded" if self.refunded else self.status,
                "decline_reason": self.decline_reason, "card": {"brand": self.brand, "last4": self.last4},
                "refunded_amount": (self.amount if self.refunded_amount is None else self.refunded_amount)
                if self.refunded else 0}
