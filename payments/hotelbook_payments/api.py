"""HTTP endpoints: translate requests to the payment actions and back."""

from __future__ import annotations

from typing import Any

from flask import Response, json

from hotelbook_chassis import Blueprint, Problem, current_user_id
from hotelbook_chassis.client import forwarded_bearer
from hotelbook_chassis.database import get_or_404
from hotelbook_chassis.problems import PROBLEM_JSON
from hotelbook_chassis.tokens import has_scope
from hotelbook_payments import actions
from hotelbook_payments.actions.payment import Record, payment_by_id
from hotelbook_payments.schemas import IdempotencyHeader, PaymentIn, PaymentOut, RefundIn

blp = Blueprint("payments", __name__, description="Charges for reservations, refunds")


@blp.post("/payments")
@blp.requires("guest")
@blp.arguments(IdempotencyHeader, location="headers")
@blp.arguments(PaymentIn)
@blp.response(201, PaymentOut)
@blp.alt_response(402, description="Card declined")
@blp.alt_response(409, description="Reservation not held, or the key is in progress")
@blp.alt_response(422, description="Idempotency-Key reused with another body")
def create_payment(headers: dict[str, Any], body: dict[str, Any]) -> Response:
    """Pay for a held reservation; the amount is the reservation's. Same key + same body = same answer."""
    status, answer = actions.pay(current_user_id(), headers["idempotency_key"], body, forwarded_bearer())
    mimetype = PROBLEM_JSON if status >= 400 else "application/json"
    return Response(json.dumps(answer), status=status, mimetype=mimetype)


def payment_or_404(payment_id: str) -> Record:
    return get_or_404(payment_by_id, payment_id, "No such payment.", uuid=True)


@blp.get("/payments/<payment_id>")
@blp.requires("guest", "payments:read")
@blp.response(200, PaymentOut)
def get_payment(payment_id: str) -> dict[str, Any]:
    """A payment: its owner's, or any with payments:read."""
    payment = payment_or_404(payment_id)
    if not has_scope("payments:read") and payment.user_id != current_user_id():
        raise Problem(404, "No such payment.", type="not-found")
    return actions.payment_out(payment)


@blp.post("/payments/<payment_id>/refund")
@blp.requires("payments:refund")
@blp.arguments(RefundIn)
@blp.response(200, PaymentOut)
@blp.alt_response(422, description="More than was paid, or another currency")
def refund_payment(body: dict[str, Any], payment_id: str) -> dict[str, Any]:
    """Refund ``amount`` (what the cancellation policy gives back), or all when absent; done once, then replayed."""
    return actions.payment_out(actions.refund(payment_id, body.get("amount")))
