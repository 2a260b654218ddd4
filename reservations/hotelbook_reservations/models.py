"""Reservations, the per-night room counts that make overbooking impossible, and receipts."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, Date, DateTime, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from hotelbook_chassis.database import make_db

db = make_db()


def new_id() -> str:
    return str(uuid.uuid4())


class Reservation(db.Model):
    __tablename__ = "reservations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(String(64))
    hotel_id: Mapped[str] = mapped_column(String(36))
    room_type_id: Mapped[str] = mapped_column(String(36))
    checkin: Mapped[date] = mapped_column(Date)
    checkout: Mapped[date] = mapped_column(Date)
    guests: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12))
    total_amount: Mapped[int] = mapped_column(Integer)
    nightly_amount: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    hold_expires_at: Mapped[datetime] = mapped_column(DateTime)  # UTC, naive
    payment_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    # What the receipt shows, as search described it when the room was held.
    hotel_name: Mapped[str] = mapped_column(String(200))
    hotel_address: Mapped[str] = mapped_column(String(300))
    hotel_city: Mapped[str] = mapped_column(String(120))
    hotel_country: Mapped[str] = mapped_column(String(2))
    room_type_name: Mapped[str] = mapped_column(String(120))
    # The VAT rate included in the price (percent, "3.8"), as the catalogue gave it at hold time.
    vat_percent: Mapped[str | None] = mapped_column(String(8), nullable=True)
    # The offer's cancellation policy (with the hotel's time zone) as shown before paying.
    cancellation_policy: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    # Set when a paid reservation is cancelled: what went back to the card (the rest was kept).
    refunded_amount: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    __table_args__ = (
        Index("ix_reservations_user_created", "user_id", "created_at", "id"),
        Index("ix_reservations_held_expiry", "status", "hold_expires_at"),
    )


class NightCount(db.Model):
    """Rooms of one type taken on one night; ``booked <= capacity`` always holds."""

    __tablename__ = "night_counts"

    room_type_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    night: Mapped[date] = mapped_column(Date, primary_key=True)
    booked: Mapped[int] = mapped_column(Integer, default=0)
    capacity: Mapped[int] = mapped_column(Integer)

    __table_args__ = (CheckConstraint("booked >= 0", name="booked_not_negative"),)


class Receipt(db.Model):
    __tablename__ = "receipts"

    reservation_id: Mapped[str] = mapped_column(ForeignKey("reservations.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), default="receipt", server_default="receipt")  # | cancellation
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    etag: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime)
