"""Schemas every service speaks: money as integer minor units and a currency."""

from __future__ import annotations

from marshmallow import Schema, fields, validate


class Money(Schema):
    """``{"amount": 12345, "currency": "EUR"}``: never a float."""

    amount = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=10**12))
    currency = fields.String(required=True, validate=validate.Regexp(r"^[A-Z]{3}$"))
