"""The templates this service renders, and the data each one needs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from hotelbook_chassis.schemas import Money
from hotelbook_chassis.stays import tax_included

TEXT = validate.Length(max=300)


class HotelPart(Schema):
    name = fields.String(required=True, validate=TEXT)
    address = fields.String(load_default="", validate=TEXT)
    city = fields.String(required=True, validate=TEXT)
    country = fields.String(required=True, validate=TEXT)


class GuestPart(Schema):
    name = fields.String(required=True, validate=TEXT)
    email = fields.String(load_default="", validate=TEXT)


class TaxPart(Schema):
    """The tax included in the amount the document totals: ``{"name": "VAT", "rate_percent": "3.8",
    "amount": money}``; the amount must be ``gross * r / (100 + r)`` rounded half to even."""

    name = fields.String(load_default="VAT", validate=validate.Length(min=1, max=20))
    rate_percent = fields.String(required=True, validate=validate.Regexp(r"^\d{1,2}(\.\d{1,3})?$"))
    amount = fields.Nested(Money, required=True)


class ReceiptData(Schema):
    reservation_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    payment_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    hotel = fields.Nested(HotelPart, required=True)
    guest = fields.Nested(GuestPart, required=True)
    room_type = fields.String(required=True, validate=TEXT)
    checkin = fields.Date(required=True)
    checkout = fields.Date(required=True)
    nights = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=366))
    guests = fields.Integer(load_default=1, strict=True, validate=validate.Range(min=1, max=50))
    nightly_price = fields.Nested(Money, required=True)
    total = fields.Nested(Money, required=True)
    issued_at = fields.String(load_default="", validate=validate.Length(max=40))
    cancellation_policy = fields.String(load_default="", validate=validate.Length(max=500))
    receipt_number = fields.String(load_default="", validate=validate.Length(max=40))
    tax = fields.Nested(TaxPart, load_default=None, allow_none=True)

    TAXED = "total"  # the amount the tax is included in

    @validates_schema
    def _tax_adds_up(self, data: dict[str, Any], **_: Any) -> None:
        tax, gross = data.get("tax"), data.get(self.TAXED)
        if not tax or not gross:
            return
        if tax["amount"]["currency"] != gross["currency"]:
            raise ValidationError("The tax is in another currency than the amount.", "tax")
        if tax["amount"]["amount"] != tax_included(gross["amount"], tax["rate_percent"]):
            raise ValidationError(f"The tax included in {self.TAXED} at {tax['rate_percent']} % is "
                                  f"{tax_included(gross['amount'], tax['rate_percent'])}.", "tax")


class CancellationData(ReceiptData):
    """A cancelled reservation: what was paid, refunded and kept under its policy."""

    paid = fields.Nested(Money, required=True)
    refunded = fields.Nested(Money, required=True)
    kept = fields.Nested(Money, required=True)
    cancelled_at = fields.String(load_default="", validate=validate.Length(max=40))

    TAXED = "kept"  # a refund gives its share of the tax back


@dataclass(frozen=True)
class Template:
    name: str
    description: str
    schema: type[Schema]
    stylesheet: str


TEMPLATES: dict[str, Template] = {
    "receipt": Template("receipt", "A4 receipt of a paid reservation", ReceiptData, "receipt.css"),
    "cancellation": Template("cancellation", "A4 cancellation note: paid, refunded and kept", CancellationData,
                             "receipt.css"),
}


def fields_of(schema: type[Schema]) -> list[str]:
    """Dotted names of the required fields, for ``GET /templates``."""
    out: list[str] = []
    for name, field in schema().fields.items():
        if isinstance(field, fields.Nested):
            out += [f"{name}.{inner}" for inner in fields_of(type(field.schema))]
        elif field.required:
            out.append(name)
    return out


class RenderIn(Schema):
    template = fields.String(required=True, validate=validate.Length(min=1, max=64))
    data = fields.Dict(required=True, metadata={"description": "the fields the template needs (GET /templates)"})


class TemplateOut(Schema):
    name = fields.String()
    description = fields.String()
    fields = fields.List(fields.String())


class TemplateList(Schema):
    items = fields.List(fields.Nested(TemplateOut))
