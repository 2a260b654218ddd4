"""Public pages: home with the search form, results, a hotel's page, city suggestions."""

from __future__ import annotations

import logging
from datetime import date

from flask import Blueprint, abort, render_template, request
from flask.typing import ResponseReturnValue

from hotelbook_ui.clients import PeerError, PeerUnavailable, peers
from hotelbook_ui.domain import city_heading, default_dates, is_uuidish, parse_stay, refine, suggest_cities

bp = Blueprint("pages", __name__)
log = logging.getLogger("hotelbook.ui.pages")


@bp.get("/")
def home() -> ResponseReturnValue:
    checkin, checkout = default_dates(date.today())
    return render_template("home.html", query=None, checkin=checkin.isoformat(), checkout=checkout.isoformat(),
                           logged_out=request.args.get("bye") == "1")


@bp.get("/hotels")
def results() -> ResponseReturnValue:
    query = parse_stay(request.args, date.today())
    if query.errors:
        return render_template("home.html", query=query, checkin=request.args.get("checkin", ""),
                               checkout=request.args.get("checkout", "")), 400
    params = {**query.search_params(), "limit": 10}
    token = request.args.get("next_token")
    if token:
        params["next_token"] = token[:2000]
    error = None
    items: list[dict] = []
    next_token = None
    try:
        page = peers().hotels(params)
        items = refine(list(page.get("items") or []), query)
        next_token = page.get("next_token")
    except PeerUnavailable:
        error = "Hotel search is not available right now. Please try again in a minute."
    except PeerError as problem:
        if problem.status == 400:
            error = problem.detail or "Those search details were not accepted. Please check them."
        else:
            error = "Hotel search is not available right now. Please try again in a minute."
    known = [] if items or error else nearby_cities(query.city)
    return render_template("results.html", query=query, items=items, next_token=next_token, error=error,
                           first_page=not token, city_name=city_heading(query.city, items, known),
                           suggestions=suggest_cities(query.city, known)), 200 if error is None else 503


def nearby_cities(typed: str) -> list[dict]:
    """Catalogue cities that start like ``typed`` (its first letters), for suggestions."""
    try:
        return peers().cities(typed.strip()[:2])
    except (PeerUnavailable, PeerError):
        return []


@bp.get("/hotels/<hotel_id>")
def hotel(hotel_id: str) -> ResponseReturnValue:
    if not is_uuidish(hotel_id):
        abort(404)
    query = parse_stay(request.args, date.today(), need_city=False)
    params = query.stay_params() if not query.errors else {}
    try:
        try:
            found = peers().hotel(hotel_id, params)
        except PeerError as problem:
            if problem.status != 400 or not params:
                raise
            found = peers().hotel(hotel_id, {})  # the hotel without prices beats no page at all
    except PeerUnavailable:
        return render_template("message.html", title="Hotel details unavailable",
                               message="We cannot show this hotel right now. Please try again in a minute.",
                               tone="error"), 503
    except PeerError as problem:
        if problem.status == 404:
            abort(404)
        return render_template("message.html", title="Hotel details unavailable",
                               message="We cannot show this hotel right now. Please try again in a minute.",
                               tone="error"), 503
    nights = query.nights if not query.errors else None
    rooms = []
    for room in found.get("room_types") or []:
        nightly = room.get("nightly_price") or {}
        stay = None
        if nights and nightly:
            stay = {"amount": int(nightly.get("amount", 0)) * nights, "currency": nightly.get("currency", "EUR")}
        free = room.get("free")
        available = room.get("available")
        if available is None and isinstance(free, int):
            available = free > 0
        rooms.append({**room, "stay_price": stay, "available": available,
                      "fits": int(room.get("capacity") or 0) >= query.guests})
    return render_template("hotel.html", hotel=found, rooms=rooms, query=query, nights=nights)
