"""HTTP endpoints: translate requests to booking calls and back."""

from __future__ import annotations

from typing import Any

from flask import Response, request

from hotelbook_chassis import Blueprint, current_user_id
from hotelbook_chassis.pagination import decode_page_token, page
from hotelbook_chassis.responses import json_response
from hotelbook_chassis.stays import money
from hotelbook_chassis.tokens import has_scope
from hotelbook_reservations import actions, domain
from hotelbook_reservations.actions import receipts
from hotelbook_reservations.schemas import (
    AvailabilityIn,
    AvailabilityOut,
    ConfirmIn,
    HoldIn,
    ListQuery,
    ReservationOut,
    ReservationPage,
)

blp = Blueprint("reservations", __name__, description="Holds, confirmations, cancellations, receipts")
PAGE_SALT = "reservations"


def utc(value: Any) -> str:
    return value.replace(microsecond=0).isoformat() + "Z"


def reservation_out(r: Any) -> dict[str, Any]:
    return {
        "id": r.id, "user_id": r.user_id, "hotel_id": r.hotel_id, "room_type_id": r.room_type_id,
        "hotel_name": r.hotel_name, "room_type_name": r.room_type_name, "checkin": r.checkin,
        "checkout": r.checkout, "guests": r.guests, "status": r.status, "total": money(r.total_amount, r.currency),
        "hold_expires_at": utc(r.hold_expires_at), "payment_id": r.payment_id, "created_at": utc(r.created_at),
        "cancellation_policy": policy_out(r), "refunded": None, "cancellation_fee": None,
        "cancelled_at": utc(r.cancelled_at) if r.cancelled_at else None,
        "receipt_number": domain.receipt_number(r.id) if r.payment_id else None,
        **refund_out(r),
    }


def policy_out(r: Any) -> dict[str, Any]:
    """The kept policy, with its deadlines for this stay in the hotel's own time."""
    policy = domain.CancellationPolicy.from_json(r.cancellation_policy)
    free_until = policy.free_until(r.checkin)
    return {
        "kind": policy.kind, "free_cancellation_hours": policy.free_cancellation_hours,
        "nights_kept": policy.nights_kept, "timezone": policy.timezone, "description": policy.description,
        "free_until": policy.local(free_until).isoformat() if free_until else None,
        "stay_starts_at": policy.local(policy.stay_starts_at(r.checkin)).isoformat(),
    }


def refund_out(r: Any) -> dict[str, Any]:
    """What went back to the card and what was kept, once a paid reservation is cancelled."""
    if r.status != domain.CANCELLED or not r.payment_id:
        return {}
    # Cancelled before policies were kept: those were refunded in full.
    refunded = r.total_amount if r.refunded_amount is None else r.refunded_amount
    return {"refunded": money(refunded, r.currency), "cancellation_fee": money(r.total_amount - refunded, r.currency)}


@blp.post("/reservations")
@blp.requires("guest")
@blp.arguments(HoldIn)
@blp.response(201, ReservationOut)
@blp.alt_response(409, description="No room free for every night")
def create_reservation(body: dict[str, Any]) -> Response:
    """Hold a room for a stay; the price comes from search."""
    reservation = actions.hold(current_user_id(), body["hotel_id"], body["room_type_id"], body["checkin"],
                                body["checkout"], body["guests"])
    return json_response(reservation_out(reservation), 201)


@blp.get("/reservations")
@blp.requires("guest")
@blp.arguments(ListQuery, location="query")
@blp.response(200, ReservationPage)
def list_reservations(query: dict[str, Any]) -> dict[str, Any]:
    """The guest's own reservations, newest first."""
    after = decode_page_token(query.get("next_token"), PAGE_SALT)
    found = actions.list_for(current_user_id(), after, query["limit"] + 1)
    more = len(found) > query["limit"]
    found = found[: query["limit"]]
    position = {"created_at": found[-1].created_at.isoformat(), "id": found[-1].id} if more else None
    return page([reservation_out(r) for r in found], position, PAGE_SALT)


def owner_filter() -> str | None:
    """Services with reservations:read see any reservation; a guest only their own."""
    return None if has_scope("reservations:read") else current_user_id()


@blp.get("/reservations/<reservation_id>")
@blp.requires("guest", "reservations:read")
@blp.response(200, ReservationOut)
def get_reservation(reservation_id: str) -> Response:
    """One reservation: its owner's, or any with reservations:read."""
    return json_response(reservation_out(actions.load(reservation_id, user_id=owner_filter())))


@blp.post("/reservations/<reservation_id>/cancel")
@blp.requires("guest")
@blp.response(200, ReservationOut)
@blp.alt_response(409, description="Not cancellable in its status")
def cancel_reservation(reservation_id: str) -> dict[str, Any]:
    """Cancel under the offer's policy; payments refunds exactly what it gives back. 409 once the stay started."""
    return reservation_out(actions.cancel(reservation_id, current_user_id()))


@blp.post("/reservations/<reservation_id>/confirm")
@blp.requires("reservations:confirm")
@blp.arguments(ConfirmIn)
@blp.response(200, ReservationOut)
@blp.alt_response(409, description="Expired or cancelled")
def confirm_reservation(body: dict[str, Any], reservation_id: str) -> Response:
    """Confirm a paid hold (payments only); the same payment again is a no-op."""
    # The receipt is not rendered here: most are never downloaded, so the first download renders it.
    reservation, _new = actions.confirm(reservation_id, body["payment_id"])
    return json_response(reservation_out(reservation))


@blp.get("/reservations/<reservation_id>/receipt.pdf")
@blp.requires("guest")
@blp.response(200, {"type": "string", "format": "binary"}, content_type="application/pdf")
def receipt_pdf(reservation_id: str) -> Response:
    """To its owner: the receipt of a paid reservation, or the cancellation note once it is cancelled."""
    reservation = actions.load(reservation_id, user_id=current_user_id())
    if reservation.payment_id is None:
        from hotelbook_chassis import Problem

        raise Problem(409, "Only a paid reservation has a receipt.", type="no-receipt", status_now=reservation.status)
    kept = receipts.ensure_receipt(reservation)
    if request.if_none_match.contains(kept.etag):
        return Response(status=304, headers={"ETag": f'"{kept.etag}"'})
    # no-cache: after a cancellation the same URL serves the note, never a stale receipt.
    return Response(kept.pdf, mimetype="application/pdf", headers={
        "ETag": f'"{kept.etag}"', "Cache-Control": "private, no-cache", "X-Document": kept.kind,
        "Content-Disposition": f'inline; filename="{kept.kind}-{reservation.id}.pdf"'})


@blp.post("/availability")
@blp.requires("reservations:availability")
@blp.arguments(AvailabilityIn)
@blp.response(200, AvailabilityOut)
def availability(body: dict[str, Any]) -> Response:
    """Free rooms per room type over a stay, for many room types at once (search only)."""
    inventory = {item["room_type_id"]: item["rooms"] for item in body["room_types"]}
    free = actions.availability(body["checkin"], body["checkout"], inventory)
    return json_response({"room_types": [{"room_type_id": rt, "free": n} for rt, n in free.items()]})
