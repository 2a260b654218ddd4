"""Request and response schemas: they validate input and document /openapi.json."""

from __future__ import annotations

from datetime import date

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from hotelbook_chassis.schemas import UUID, Money
from hotelbook_chassis.stays import stay_errors
from hotelbook_reservations.domain import STATUSES

ID = validate.Length(min=1, max=36)


class HoldIn(Schema):
    # UUIDs: the hotel id goes into search's URL.
    hotel_id = fields.String(required=True, validate=UUID)
    room_type_id = fields.String(required=True, validate=UUID)
    checkin = fields.Date(required=True)
    checkout = fields.Date(required=True)
    guests = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=10))

    @validates_schema
    def check_stay(self, data: dict, **_: object) -> None:
        errors = stay_errors(data.get("checkin"), data.get("checkout"), date.today())
        if errors:
            raise ValidationError({name: [reason] for name, reason in errors.items()})


class ConfirmIn(Schema):
    payment_id = fields.String(required=True, validate=validate.Length(min=1, max=64))


class PolicyOut(Schema):
    kind = fields.String(validate=validate.OneOf(["flexible", "non_refundable"]))
    free_cancellation_hours = fields.Integer()
    nights_kept = fields.Integer()
    timezone = fields.String(metadata={"description": "the hotel's IANA time zone"})
    description = fields.String()
    free_until = fields.String(allow_none=True, metadata={"description": "full refund until then (hotel time)"})
    stay_starts_at = fields.String(metadata={"description": "no cancellation from then on (hotel time)"})


class ReservationOut(Schema):
    id = fields.String()
    user_id = fields.String()
    hotel_id = fields.String()
    room_type_id = fields.String()
    hotel_name = fields.String()
    room_type_name = fields.String()
    checkin = fields.Date()
    checkout = fields.Date()
    guests = fields.Integer()
    status = fields.String(validate=validate.OneOf(STATUSES))
    total = fields.Nested(Money)
    hold_expires_at = fields.String()
    payment_id = fields.String(allow_none=True)
    created_at = fields.String()
    cancellation_policy = fields.Nested(PolicyOut)
    refunded = fields.Nested(Money, allow_none=True, metadata={"description": "set once a paid one is cancelled"})
    cancellation_fee = fields.Nested(Money, allow_none=True, metadata={"description": "what the policy kept"})
    cancelled_at = fields.String(allow_none=True)
    receipt_number = fields.String(allow_none=True, metadata={"description": "on its receipt, once paid"})


class ListQuery(Schema):
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    next_token = fields.String(validate=validate.Length(max=2000))


class ReservationPage(Schema):
    items = fields.List(fields.Nested(ReservationOut))
    next_token = fields.String(allow_none=True)


class RoomTypeInventory(Schema):
    room_type_id = fields.String(required=True, validate=ID)
    rooms = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=100000))


class AvailabilityIn(Schema):
    checkin = fields.Date(required=True)
    checkout = fields.Date(required=True)
    room_types = fields.List(fields.Nested(RoomTypeInventory), required=True, validate=validate.Length(max=500))

    @validates_schema
    def check_stay(self, data: dict, **_: object) -> None:
        checkin, checkout = data.get("checkin"), data.get("checkout")
        if checkin and checkout and checkout <= checkin:
            raise ValidationError({"checkout": ["checkout must be after checkin."]})
        if checkin and checkout and (checkout - checkin).days > 31:
            raise ValidationError({"checkout": ["A stay is at most 30 nights."]})


class FreeRooms(Schema):
    room_type_id = fields.String()
    free = fields.Integer()


class AvailabilityOut(Schema):
    room_types = fields.List(fields.Nested(FreeRooms))
