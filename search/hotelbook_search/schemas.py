"""Request and response schemas: they validate input and document /openapi.json."""

from __future__ import annotations

from datetime import date

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from hotelbook_chassis.schemas import Money
from hotelbook_chassis.stays import stay_errors
from hotelbook_search.domain import FLEXIBLE, MAX_GUESTS, NON_REFUNDABLE, SORTS
from hotelbook_search.domain.timezones import is_timezone

ID = validate.Length(min=1, max=36)


class StayQuery(Schema):
    checkin = fields.Date()
    checkout = fields.Date()
    guests = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_GUESTS))

    @validates_schema
    def check_stay(self, data: dict, **_: object) -> None:
        errors = stay_errors(data.get("checkin"), data.get("checkout"), date.today())
        if errors:
            raise ValidationError({name: [reason] for name, reason in errors.items()})


class HotelQuery(StayQuery):
    city = fields.String(required=True, validate=validate.Length(min=1, max=120))
    stars = fields.Integer(validate=validate.Range(min=1, max=5), metadata={"description": "minimum stars"})
    max_price = fields.Integer(validate=validate.Range(min=1),
                               metadata={"description": "max nightly price, minor units"})
    sort = fields.String(load_default="name", validate=validate.OneOf(SORTS))
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    next_token = fields.String(validate=validate.Length(max=2000))


class CityQuery(Schema):
    prefix = fields.String(load_default="", validate=validate.Length(max=120))


class CitySchema(Schema):
    name = fields.String()
    country = fields.String()
    hotels = fields.Integer()


class CityPage(Schema):
    items = fields.List(fields.Nested(CitySchema))


def timezone_field(**kwargs: object) -> fields.String:
    return fields.String(validate=[validate.Length(min=1, max=64), _check_timezone],
                         metadata={"description": "IANA time zone of the hotel, e.g. Europe/Zurich"}, **kwargs)


def _check_timezone(value: str) -> None:
    if not is_timezone(value):
        raise ValidationError("Not an IANA time zone name (e.g. Europe/Zurich).")


class CancellationPolicyIn(Schema):
    kind = fields.String(required=True, validate=validate.OneOf([FLEXIBLE, NON_REFUNDABLE]))
    free_cancellation_hours = fields.Integer(load_default=48, strict=True, validate=validate.Range(min=0, max=720))
    nights_kept = fields.Integer(load_default=1, strict=True, validate=validate.Range(min=1, max=30))


class CancellationPolicyOut(Schema):
    kind = fields.String(validate=validate.OneOf([FLEXIBLE, NON_REFUNDABLE]))
    free_cancellation_hours = fields.Integer(metadata={"description": "free until this long before check-in"})
    nights_kept = fields.Integer(metadata={"description": "nights kept when cancelled later"})
    checkin_time = fields.String(metadata={"description": "local check-in time; the stay starts then"})
    description = fields.String()


class RoomTypeIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    capacity = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=MAX_GUESTS))
    nightly_price = fields.Nested(Money, required=True)
    rooms = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=10000))
    cancellation_policy = fields.Nested(CancellationPolicyIn,
                                        metadata={"description": "default: flexible, 48 h, first night kept"})


class RoomTypePatch(RoomTypeIn):
    """Any subset of a room type's fields; a price or a policy that is sent is sent whole."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        # Field names, not True: ``partial=True`` would reach into the nested price and policy too.
        kwargs.setdefault("partial", tuple(RoomTypeIn._declared_fields))
        super().__init__(*args, **kwargs)


class RoomTypeOut(Schema):
    id = fields.String()
    name = fields.String()
    capacity = fields.Integer()
    nightly_price = fields.Nested(Money)
    rooms = fields.Integer()
    cancellation_policy = fields.Nested(CancellationPolicyOut)
    available = fields.Boolean(allow_none=True)
    free = fields.Integer(allow_none=True)


class HotelIn(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    city = fields.String(required=True, validate=validate.Length(min=1, max=120))
    country = fields.String(required=True, validate=validate.Regexp(r"^[A-Z]{2}$"))
    address = fields.String(load_default="", validate=validate.Length(max=300))
    stars = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=5))
    description = fields.String(load_default="", validate=validate.Length(max=5000))
    amenities = fields.List(fields.String(validate=validate.Length(min=1, max=60)), load_default=list,
                            validate=validate.Length(max=50))
    room_types = fields.List(fields.Nested(RoomTypeIn), load_default=list, validate=validate.Length(max=50))
    timezone = timezone_field()


class HotelPatch(Schema):
    name = fields.String(validate=validate.Length(min=1, max=200))
    city = fields.String(validate=validate.Length(min=1, max=120))
    country = fields.String(validate=validate.Regexp(r"^[A-Z]{2}$"))
    address = fields.String(validate=validate.Length(max=300))
    stars = fields.Integer(strict=True, validate=validate.Range(min=1, max=5))
    description = fields.String(validate=validate.Length(max=5000))
    amenities = fields.List(fields.String(validate=validate.Length(min=1, max=60)), validate=validate.Length(max=50))
    timezone = timezone_field()


class HotelOut(Schema):
    id = fields.String()
    name = fields.String()
    city = fields.String()
    country = fields.String()
    address = fields.String()
    stars = fields.Integer()
    description = fields.String()
    amenities = fields.List(fields.String())
    timezone = fields.String()
    vat_percent = fields.String(allow_none=True, metadata={
        "description": "VAT included in the prices, percent of the net price (\"3.8\"); null when not on record"})
    room_types = fields.List(fields.Nested(RoomTypeOut))


class HotelSummary(Schema):
    id = fields.String()
    name = fields.String()
    city = fields.String()
    country = fields.String()
    address = fields.String()
    stars = fields.Integer()
    nightly_price_from = fields.Nested(Money)
    available = fields.Boolean(allow_none=True)
    stay_price = fields.Nested(Money, allow_none=True)
    cancellation_policy = fields.Nested(CancellationPolicyOut, allow_none=True,
                                        metadata={"description": "the policy of the room priced in stay_price"})


class HotelPage(Schema):
    items = fields.List(fields.Nested(HotelSummary))
    next_token = fields.String(allow_none=True)
