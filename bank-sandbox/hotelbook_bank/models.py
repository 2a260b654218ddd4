"""The bank's own ledger."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hotelbook_chassis.database import make_db

db = make_db()


def new_charge_id() -> str:
    return f"ch_{uuid.uuid4().hex}"


class Charge(db.Model):
    __tablename__ = "charges"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=new_charge_id)
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
        return charge_out({name: getattr(self, name) for name in (
            "id", "idempotency_key", "amount", "currency", "status", "decline_reason", "brand", "last4", "refunded",
            "refunded_amount")})


def charge_out(row: Mapping[str, Any]) -> dict[str, Any]:
    """What the bank answers about a charge (a row as a mapping)."""
    refunded = row["refunded"]
    return {"id": row["id"], "idempotency_key": row["idempotency_key"], "amount": row["amount"],
            "currency": row["currency"], "status": "refunded" if refunded else row["status"],
            "decline_reason": row["decline_reason"], "card": {"brand": row["brand"], "last4": row["last4"]},
            "refunded_amount": (row["amount"] if row["refunded_amount"] is None else row["refunded_amount"])
            if refunded else 0}
