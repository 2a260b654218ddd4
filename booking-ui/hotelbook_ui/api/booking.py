"""Booking: hold a room, pay for it, confirmation and receipt, my reservations, cancel."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from hotelbook_ui.actions.guest import LoginRequired, guest_token
from hotelbook_ui.clients import PeerError, PeerUnavailable, peers
from hotelbook_ui.domain import format_money, is_uuidish, parse_card, parse_stay, seconds_left

bp = Blueprint("booking", __name__)
log = logging.getLogger("hotelbook.ui.booking")
T = TypeVar("T")
RESERVATIONS_DOWN = "Reservations are not available right now. Please try again in a minute."
DECLINED = "Your card was declined. No money was taken. Please try another card."
PAYMENT_FAILED = ("The payment could not be completed because of a problem at the bank. No money was taken. "
                  "Please try again.")
STILL_PROCESSING = ("Your payment is still being processed. Wait a moment, then reload this page or send the form "
                    "again: you will not be charged twice.")
PAYMENT_BEING_CHECKED = ("We did not get the bank's answer in time, so your payment is being checked with the bank. "
                         "You will never be charged twice. Reload this page in a minute to see your reservation "
                         "confirmed, or send the form again.")
PAYMENTS_DOWN = ("Payments are not answering right now. You have not been charged twice: "
                 "send the form again in a minute, it is safe.")


def as_guest(call: Callable[[str], T]) -> T:
    """Call a peer with the guest's token; if it is refused as expired or revoked, refresh once."""
    try:
        return call(guest_token())
    except PeerError as problem:
        if problem.status != 401:
            raise
    try:
        return call(guest_token(force_refresh=True))
    except PeerError as problem:
        if problem.status == 401:
            raise LoginRequired from problem
        raise


def hotel_summary(hotel_id: str | None) -> dict[str, Any]:
    """The hotel as search knows it, or a placeholder when search cannot say (pages still work)."""
    if hotel_id and is_uuidish(hotel_id):
        try:
            return peers().hotel(hotel_id, {})
        except (PeerUnavailable, PeerError):
            pass
    return {"id": hotel_id, "name": "Your hotel", "room_types": []}


def room_name(hotel: dict[str, Any], room_type_id: str | None) -> str:
    for room in hotel.get("room_types") or []:
        if room.get("id") == room_type_id:
            return str(room.get("name"))
    return "Room"


# --- hold ---------------------------------------------------------------------------------------

@bp.post("/reservations")
def hold() -> ResponseReturnValue:
    hotel_id = request.form.get("hotel_id") or ""
    room_type_id = request.form.get("room_type_id") or ""
    query = parse_stay(request.form, date.today(), need_city=False)
    if not is_uuidish(hotel_id) or not is_uuidish(room_type_id):
        abort(400)
    back = url_for("pages.hotel", hotel_id=hotel_id, **query.stay_params())
    if query.errors or not query.checkin or not query.checkout:
        flash(next(iter(query.errors.values()), "Choose your dates first."), "error")
        return redirect(back)
    body = {"hotel_id": hotel_id, "room_type_id": room_type_id, "checkin": query.checkin.isoformat(),
            "checkout": query.checkout.isoformat(), "guests": query.guests}
    try:
        reservation = as_guest(lambda token: peers().hold(token, body))
    except PeerUnavailable:
        flash(RESERVATIONS_DOWN, "error")
        return redirect(back)
    except PeerError as problem:
        if problem.status == 409 and problem.type.endswith(":too-many-holds"):
            flash(problem.detail or "You already hold as many rooms as you may at once.", "error")
        elif problem.status == 409:
            flash("Sorry, that room was just taken for these dates. Please choose another room or other dates.",
                  "error")
        elif problem.status in (400, 422):
            flash(problem.detail or "That reservation could not be made with these details.", "error")
        else:
            flash(RESERVATIONS_DOWN, "error")
        return redirect(back)
    return redirect(url_for("booking.reservation", reservation_id=reservation["id"]))


# --- one reservation: pay form while held, confirmation once paid -----------------------------------

def _load(reservation_id: str) -> dict[str, Any]:
    if not is_uuidish(reservation_id):
        abort(404)
    try:
        return as_guest(lambda token: peers().reservation(token, reservation_id))
    except PeerError as problem:
        if problem.status in (403, 404):
            abort(404)  # another guest's reservation looks exactly like a missing one
        raise


def _render(reservation: dict[str, Any], *, errors: dict[str, str] | None = None, error: str | None = None,
            idempotency_key: str | None = None, holder: str = "", status: int = 200):
    hotel = hotel_summary(reservation.get("hotel_id"))
    if reservation.get("hotel_name") and hotel.get("name") == "Your hotel":
        hotel["name"] = reservation["hotel_name"]  # search is down: reservations knows the name
    return render_template(
        "reservation.html", reservation=reservation, hotel=hotel,
        room=reservation.get("room_type_name") or room_name(hotel, reservation.get("room_type_id")),
        seconds_left=seconds_left(reservation.get("hold_expires_at")),
        # A new key per form render: a double submit of this form never charges twice,
        # while a new attempt (another card after a decline) is a new payment.
        idempotency_key=idempotency_key or str(uuid.uuid4()),
        errors=errors or {}, error=error, holder=holder, paid=request.args.get("paid") == "1",
    ), status


@bp.get("/reservations/<reservation_id>")
def reservation(reservation_id: str) -> ResponseReturnValue:
    try:
        found = _load(reservation_id)
    except PeerUnavailable:
        return render_template("message.html", title="Reservation unavailable", message=RESERVATIONS_DOWN,
                               tone="error"), 503
    return _render(found)


@bp.post("/reservations/<reservation_id>/pay")
def pay(reservation_id: str) -> ResponseReturnValue:
    try:
        found = _load(reservation_id)
    except PeerUnavailable:
        return render_template("message.html", title="Reservation unavailable", message=RESERVATIONS_DOWN,
                               tone="error"), 503
    key = request.form.get("idempotency_key") or ""
    holder = (request.form.get("holder") or "").strip()[:100]
    if not is_uuidish(key):
        return _render(found, error="The form was incomplete. Please enter your card again.", status=400)
    if found.get("status") != "held":
        # Already paid (a second submit of the form), cancelled or expired: show where it stands.
        return redirect(url_for("booking.reservation", reservation_id=reservation_id))
    card, errors = parse_card(request.form, date.today())
    if card is None:
        return _render(found, errors=errors, idempotency_key=key, holder=holder, status=400)
    try:
        payment = as_guest(lambda token: peers().pay(token, reservation_id, card.as_json(), key))
    except PeerUnavailable:
        # Same key on the next try: if the charge went through, payments answers with it.
        return _render(found, error=PAYMENTS_DOWN, idempotency_key=key, holder=holder, status=503)
    except PeerError as problem:
        if problem.status == 402:
            return _render(found, error=DECLINED, holder=holder, status=402)
        if problem.status == 409 and problem.type.endswith((":in-progress", ":retry")):
            # The first press of this form is still being processed: same key, never a second charge.
            return _render(found, error=STILL_PROCESSING, idempotency_key=key, holder=holder, status=409)
        if problem.status == 409:
            return _render(found, error="This reservation can no longer be paid: the hold has expired or the "
                           "room was taken. Please search again.", status=409)
        if problem.status == 422:
            return _render(found, error="Please enter your card details again.", holder=holder, status=400)
        if problem.status == 400:
            field_errors = {name: problem.reason_for(name) or "" for name in ("card_number", "expiry", "cvc")}
            if problem.reason_for("number"):
                field_errors["card_number"] = problem.reason_for("number") or ""
            field_errors = {k: v for k, v in field_errors.items() if v}
            return _render(found, errors=field_errors, error=None if field_errors else (
                problem.detail or "The card details were not accepted."), holder=holder, status=400)
        if problem.status == 504 and problem.type.endswith(":payment-pending"):
            # The bank's answer was lost: payments checks with the bank; the same key never charges twice.
            return _render(found, error=PAYMENT_BEING_CHECKED, idempotency_key=key, holder=holder, status=202)
        if problem.status == 504:
            # No answer in time: the charge may have gone through, so the retry keeps the key.
            return _render(found, error=PAYMENTS_DOWN, idempotency_key=key, holder=holder, status=503)
        return _render(found, error=PAYMENT_FAILED, holder=holder, status=502)
    if payment.get("status") == "declined":
        return _render(found, error=DECLINED, holder=holder, status=402)
    if payment.get("status") == "failed":
        return _render(found, error=PAYMENT_FAILED, holder=holder, status=502)
    return redirect(url_for("booking.reservation", reservation_id=reservation_id, paid=1))


@bp.get("/reservations/<reservation_id>/receipt.pdf")
def receipt(reservation_id: str) -> ResponseReturnValue:
    if not is_uuidish(reservation_id):
        abort(404)
    try:
        upstream = as_guest(lambda token: peers().receipt(token, reservation_id))
    except PeerUnavailable:
        return render_template("message.html", title="Receipt unavailable",
                               message="The receipt cannot be downloaded right now. Please try again shortly.",
                               tone="error"), 503
    except PeerError as problem:
        if problem.status in (403, 404):
            abort(404)
        if problem.status == 409:
            return render_template("message.html", title="No receipt yet",
                                   message="A receipt is issued once the reservation is paid and confirmed.",
                                   tone="info"), 409
        return render_template("message.html", title="Receipt unavailable",
                               message="The receipt cannot be downloaded right now. Please try again shortly.",
                               tone="error"), 503
    # After a cancellation reservations serves the cancellation note, never the receipt.
    document = "cancellation" if upstream.headers.get("X-Document") == "cancellation" else "receipt"
    return Response(upstream.content, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="hotelbook-{document}-{reservation_id[:8]}.pdf"',
        "Cache-Control": "private, no-store",
    })


# --- my reservations ------------------------------------------------------------------------------

@bp.get("/reservations")
def my_reservations() -> ResponseReturnValue:
    params: dict[str, Any] = {"limit": 20}
    if request.args.get("next_token"):
        params["next_token"] = request.args["next_token"][:2000]
    try:
        page = as_guest(lambda token: peers().reservations_page(token, params))
    except PeerUnavailable:
        return render_template("reservations.html", items=[], next_token=None, error=RESERVATIONS_DOWN), 503
    except PeerError as problem:
        log.warning("listing reservations failed: %s", problem)
        return render_template("reservations.html", items=[], next_token=None, error=RESERVATIONS_DOWN), 503
    items = list(page.get("items") or [])
    hotels: dict[str, dict[str, Any]] = {}
    for item in items:
        if item.get("hotel_name") and item.get("room_type_name"):
            item["room_name"] = item["room_type_name"]  # reservations keeps the names: no call to search
            continue
        hotel_id = item.get("hotel_id")
        if hotel_id not in hotels:
            hotels[hotel_id] = hotel_summary(hotel_id)
        item["hotel_name"] = hotels[hotel_id].get("name")
        item["room_name"] = room_name(hotels[hotel_id], item.get("room_type_id"))
    return render_template("reservations.html", items=items, next_token=page.get("next_token"), error=None)


def cancelled_message(reservation: dict[str, Any]) -> str:
    refunded, kept = reservation.get("refunded"), reservation.get("cancellation_fee")
    if not refunded:
        return "Your reservation is cancelled. Nothing was paid, so nothing was charged."
    message = f"Your reservation is cancelled. {format_money(refunded)} is refunded to your card"
    if kept and kept.get("amount"):
        message += f"; {format_money(kept)} is kept under the cancellation policy"
    return message + "."


@bp.post("/reservations/<reservation_id>/cancel")
def cancel(reservation_id: str) -> ResponseReturnValue:
    if not is_uuidish(reservation_id):
        abort(404)
    try:
        cancelled = as_guest(lambda token: peers().cancel(token, reservation_id))
    except PeerUnavailable:
        flash(RESERVATIONS_DOWN, "error")
    except PeerError as problem:
        if problem.status in (403, 404):
            abort(404)
        if problem.status == 409:
            flash(problem.detail if problem.type.endswith(":stay-started") and problem.detail
                  else "This reservation can no longer be cancelled.", "error")
        else:
            flash(RESERVATIONS_DOWN, "error")
    else:
        flash(cancelled_message(cancelled), "success")
    return redirect(url_for("booking.my_reservations"))
