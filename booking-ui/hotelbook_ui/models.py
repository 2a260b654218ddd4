"""The UI's own table: server-side browser sessions (tokens never reach the browser)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hotelbook_chassis.database import make_db

db = make_db()


class BrowserSession(db.Model):
    """One browser's session. The cookie holds a random id; only its SHA-256 is stored here,
    so a copy of the table cannot be replayed as cookies. ``data`` is the (encrypted) session
    dictionary: CSRF token, login state, and the guest's tokens once logged in."""

    __tablename__ = "browser_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[str] = mapped_column(Text)
    user_id: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
