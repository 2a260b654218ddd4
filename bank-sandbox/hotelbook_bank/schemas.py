"""The JSON shapes of the bank sandbox."""

from __future__ import annotations

from marshmallow import Schema, fields, validate


class CardIn(Schema):
    number = fields.String(required=True, validate=validate.Regexp(r"^\d{12,19}$"))
    exp_month = fields.Integer(required=True)
    exp_year = fields.Integer(required=True)
    cvc = fields.String(required=True, validate=validate.Regexp(r"^\d{3,4}$"))


class ChargeIn(Schema):
    amount = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=10**9))
    currency = fields.String(required=True, validate=validate.Regexp(r"^[A-Z]{3}$"))
    card = fields.Nested(CardIn, required=True)
    idempotency_key = fields.String(required=True, validate=validate.Length(min=1, max=200))


class ChargeOut(Schema):
    id = fields.String()
    idempotency_key = fields.String()
    amount = fields.Integer()
    currency = fields.String()
    status = fields.String()
    decline_reason = fields.String(allow_none=True)
    card = fields.Dict()
    refunded_amount = fields.Integer()


class ChargeQuery(Schema):
    idempotency_key = fields.String(required=True, validate=validate.Length(min=1, max=200))


class RefundIn(Schema):
    charge_id = fields.String(required=True, validate=validate.Length(min=1, max=40))
    amount = fields.Integer(strict=True, validate=validate.Range(min=1, max=10**9),
                            metadata={"description": "minor units; the whole charge when absent"})


class LedgerOut(Schema):
    charged = fields.Integer()
    refunded = fields.Integer()
    charges = fields.Integer()
    refunds = fields.Integer()
