"""Schemas every service speaks: money as integer minor units and a currency."""

from __future__ import annotations

import re

from marshmallow import Schema, fields, validate


class Money(Schema):
    """``{"amount": 12345, "currency": "EUR"}``: never a float."""

    amount = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=10**12))
    currency = fields.String(required=True, validate=validate.Regexp(r"^[A-Z]{3}$"))


# Our public identifiers are UUIDs; anything else never reaches a query or a peer's URL.
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
UUID = validate.Regexp(UUID_PATTERN, error="Must be a UUID.")
_UUID_RE = re.compile(UUID_PATTERN)


def is_uuid(value: object) -> bool:
    """True for a canonical UUID string (what our services hand out as ids)."""
    return isinstance(value, str) and _UUID_RE.fullmatch(value) is not None
