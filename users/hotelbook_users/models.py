"""Accounts. Password hashes live here and are never returned by any endpoint."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hotelbook_chassis.database import make_db

db = make_db()


class User(db.Model):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=lambda: str(uuid.uuid4()))
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime)

    def public(self) -> dict[str, object]:
        return {"id": self.id, "email": self.email, "name": self.name, "email_verified": self.email_verified}


class SessionRevocation(db.Model):
    """Outbox: "end every session of this user that began at or before ``not_before_ms``", for one
    peer (auth or booking-ui). Deleted once the peer confirmed; no foreign key, so it outlives
    a deleted account."""

    __tablename__ = "session_revocations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(36))
    peer: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(String(30))
    not_before_ms: Mapped[int] = mapped_column(BigInteger)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
