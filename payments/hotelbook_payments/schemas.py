"""Request and response schemas: they validate input and document /openapi.json."""

from __future__ import annotations

from datetime import date

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from hotelbook_chassis.schemas import UUID, Money
from hotelbook_payments.domain import STATUSES, card_problems, normalise_number


class CardIn(Schema):
    number = fields.String(required=True, validate=validate.Length(min=12, max=30), load_only=True)
    exp_month = fields.Integer(required=True, strict=True)
    exp_year = fields.Integer(required=True, strict=True, validate=validate.Range(min=2000, max=2100))
    cvc = fields.String(required=True, validate=validate.Length(max=4), load_only=True)
    holder = fields.String(required=True, validate=validate.Length(min=1, max=120))

    @post_load
    def clean(self, data: dict, **_: object) -> dict:
        data["number"] = normalise_number(data["number"])
        return data


class PaymentIn(Schema):
    reservation_id = fields.String(required=True, validate=UUID)
    card = fields.Nested(CardIn, required=True)

    @validates_schema
    def check_card(self, data: dict, **_: object) -> None:
        card = data["card"]
        problems = card_problems(normalise_number(card["number"]), card["exp_month"], card["exp_year"], card["cvc"],
                                 date.today())
        if problems:
            raise ValidationError({name: [reason] for name, reason in problems.items()})


class IdempotencyHeader(Schema):
    idempotency_key = fields.String(required=True, data_key="Idempotency-Key",
                                    validate=validate.Length(min=8, max=200))

    class Meta:
        unknown = "exclude"  # every other header


class RefundIn(Schema):
    amount = fields.Nested(Money, metadata={"description": "what to give back; the whole payment when absent"})


class CardOut(Schema):
    brand = fields.String()
    last4 = fields.String()


class PaymentOut(Schema):
    id = fields.String()
    reservation_id = fields.String()
    amount = fields.Nested(Money, allow_none=True)
    status = fields.String(validate=validate.OneOf(STATUSES))
    bank_reference = fields.String(allow_none=True)
    card = fields.Nested(CardOut)
    confirmed = fields.Boolean()
    decline_reason = fields.String()
    refunded = fields.Nested(Money, allow_none=True)
