"""The bank's endpoints: charges once per idempotency key, refunds, the ledger."""

from __future__ import annotations

from typing import Any

from flask import Response

from hotelbook_bank import actions
from hotelbook_bank.schemas import ChargeIn, ChargeOut, ChargeQuery, LedgerOut, RefundIn
from hotelbook_chassis import Blueprint
from hotelbook_chassis.responses import json_response

blp = Blueprint("bank", __name__, description="Bank sandbox")


@blp.post("/charges")
@blp.arguments(ChargeIn)
@blp.response(201, ChargeOut)
def charge(body: dict[str, Any]) -> Response:
    """Charge a card once per idempotency key."""
    # The JSON written directly: every payment passes here.
    return json_response(actions.charge(body), 201)


@blp.get("/charges")
@blp.arguments(ChargeQuery, location="query")
@blp.response(200, ChargeOut)
def find_charge(query: dict[str, Any]) -> dict[str, Any]:
    """The charge made with an idempotency key (404 when none)."""
    return actions.find_charge(query["idempotency_key"]).out()


@blp.get("/charges/<charge_id>")
@blp.response(200, ChargeOut)
def get_charge(charge_id: str) -> dict[str, Any]:
    return actions.get_charge(charge_id).out()


@blp.post("/refunds")
@blp.arguments(RefundIn)
@blp.response(200, ChargeOut)
def refund(body: dict[str, Any]) -> dict[str, Any]:
    """Refund a succeeded charge, in full or ``amount`` of it, once; refunding again changes nothing."""
    return actions.refund(body).out()


@blp.get("/ledger")
@blp.response(200, LedgerOut)
def ledger() -> dict[str, int]:
    """What the bank really holds: the sums tests compare with confirmed reservations."""
    return actions.ledger()
