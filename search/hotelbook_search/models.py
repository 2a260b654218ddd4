"""The catalogue tables.

``city_key`` (accent- and case-free) and the denormalised ``min_price`` and
``max_capacity`` let a city search with filters and sorting use one index
range instead of scanning or joining room types.
"""

from __future__ import annotations

import uuid

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hotelbook_chassis.database import make_db

db = make_db()


def new_id() -> str:
    return str(uuid.uuid4())


class Hotel(db.Model):
    __tablename__ = "hotels"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    city: Mapped[str] = mapped_column(String(120))
    city_key: Mapped[str] = mapped_column(String(120))
    country: Mapped[str] = mapped_column(String(2))
    address: Mapped[str] = mapped_column(String(300), default="")
    stars: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text, default="")
    amenities: Mapped[list] = mapped_column(JSON, default=list)
    min_price: Mapped[int] = mapped_column(Integer, default=0)
    max_capacity: Mapped[int] = mapped_column(Integer, default=0)
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    # IANA name (``Europe/Zurich``): cancellation deadlines are in the hotel's own time.
    timezone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")

    room_types: Mapped[list[RoomType]] = relationship(
        back_populates="hotel", cascade="all, delete-orphan", order_by="RoomType.price_amount", lazy="selectin"
    )

    __table_args__ = (
        Index("ix_hotels_city_name", "city_key", "name", "id"),
        Index("ix_hotels_city_stars", "city_key", "stars", "id"),
        Index("ix_hotels_city_price", "city_key", "min_price", "id"),
    )

    def refresh_summary(self) -> None:
        """Keep the denormalised columns in step with the room types."""
        self.min_price = min((rt.price_amount for rt in self.room_types), default=0)
        self.max_capacity = max((rt.capacity for rt in self.room_types), default=0)


class RoomType(db.Model):
    __tablename__ = "room_types"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    hotel_id: Mapped[str] = mapped_column(ForeignKey("hotels.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    capacity: Mapped[int] = mapped_column(Integer)
    price_amount: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    rooms: Mapped[int] = mapped_column(Integer)
    # The rate's cancellation policy (see domain.cancellation_policy).
    refundable: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    free_cancellation_hours: Mapped[int] = mapped_column(Integer, default=48, server_default="48")
    nights_kept: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    hotel: Mapped[Hotel] = relationship(back_populates="room_types")


class City(db.Model):
    """One row per city with hotels, for autocomplete without scanning hotels."""

    __tablename__ = "cities"

    key: Mapped[str] = mapped_column(String(130), primary_key=True)  # city_key|country
    city_key: Mapped[str] = mapped_column(String(120), index=True)
    name: Mapped[str] = mapped_column(String(120))
    country: Mapped[str] = mapped_column(String(2))
    hotels: Mapped[int] = mapped_column(Integer, default=0)
