"""HTTP endpoints: translate requests to actions and domain calls and back."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, g, jsonify, request
from flask.views import MethodView

from hotelbook_chassis import Blueprint, Problem
from hotelbook_chassis.pagination import decode_page_token, page
from hotelbook_chassis.stays import money, nights
from hotelbook_search import actions
from hotelbook_search.clients import free_rooms
from hotelbook_search.domain import cheapest_fitting, city_key, offer_policy
from hotelbook_search.domain.timezones import timezone_of
from hotelbook_search.models import Hotel, RoomType, db
from hotelbook_search.schemas import (
    CityPage,
    CityQuery,
    HotelIn,
    HotelOut,
    HotelPage,
    HotelPatch,
    HotelQuery,
    RoomTypeIn,
    RoomTypeOut,
    RoomTypePatch,
    StayQuery,
)

blp = Blueprint("search", __name__, description="Hotel catalogue and search")

# With dates, availability may drop candidates: look at a few more than a page,
# still with one availability call per page.
OVERFETCH = 3


@blp.before_request
def kept_answer() -> Response | None:
    """A search without dates answered again from the kept answer while the catalogue is unchanged
    (see answers.py): no query parsing, SQL or JSON; the chassis' request hooks still run."""
    if request.endpoint != "search.search_hotels" or request.method != "GET":
        return None
    revision, body = current_app.extensions["search_answers"].lookup(request.query_string)
    if body is not None:
        return Response(body, mimetype="application/json")
    g.search_revision = revision
    return None


@blp.get("/hotels")
@blp.arguments(HotelQuery(), location="query")
@blp.response(200, HotelPage)
def search_hotels(query: dict[str, Any]) -> Response:
    """Hotels in a city; with dates, only those with a fitting room free every night."""
    # The hot path: the page is built from plain rows into the exact shape of
    # HotelPage (which still documents it; a test checks both agree) and
    # answered as JSON directly, without a marshmallow dump per field.
    response = jsonify(search_page(query))
    if not query.get("checkin"):
        current_app.extensions["search_answers"].put(request.query_string, response.get_data(),
                                                     g.get("search_revision"))
    return response


def search_page(query: dict[str, Any]) -> dict[str, Any]:
    salt = f"hotels:{city_key(query['city'])}:{query['sort']}"
    after = decode_page_token(query.get("next_token"), salt)
    limit = query["limit"]
    checkin, checkout = query.get("checkin"), query.get("checkout")
    if not checkin:
        hotels = actions.find_hotels(query, after, limit + 1)
        more = len(hotels) > limit
        hotels = hotels[:limit]
        items = [summary(h) for h in hotels]
        return page(items, actions.position_of(hotels[-1], query["sort"]) if more else None, salt)

    found = actions.find_hotels_with_offers(query, after, limit * OVERFETCH + 1)
    exhausted = len(found) <= limit * OVERFETCH
    found = found[: limit * OVERFETCH]
    candidates = [hotel for hotel, _ in found]
    guests = query["guests"]
    inventory = {o.room_type_id: o.rooms for _, offers in found for o in offers if o.capacity >= guests}
    free = free_rooms(checkin, checkout, inventory)
    items, last = [], None
    for hotel, offers in found:
        item = summary(hotel)
        best = cheapest_fitting(offers, guests, free)
        item["available"] = None if free is None else best is not None
        stay_amount = best.nightly_amount * nights(checkin, checkout) if best else None
        item["stay_price"] = money(stay_amount, best.currency) if best else None
        item["cancellation_policy"] = offer_policy(best) if best else None
        if item["available"] is False:
            last = hotel
            continue
        items.append(item)
        last = hotel
        if len(items) == limit:
            break
    done = exhausted and (last is None or last is candidates[-1])
    return page(items, None if done or last is None else actions.position_of(last, query["sort"]), salt)


def summary(hotel: Any) -> dict[str, Any]:
    """A HotelSummary from a row of actions.SUMMARY_COLUMNS (unpacked: cheaper than attribute access)."""
    hotel_id, name, city, country, address, stars, min_price, currency = hotel
    return {
        "id": hotel_id, "name": name, "city": city, "country": country, "address": address, "stars": stars,
        "nightly_price_from": {"amount": min_price, "currency": currency},
    }


@blp.get("/cities")
@blp.arguments(CityQuery(), location="query")
@blp.response(200, CityPage)
def list_cities(query: dict[str, Any]) -> dict[str, Any]:
    """Cities with hotels whose name starts with ``prefix`` (accents and case ignored), busiest first."""
    return {"items": actions.cities(query["prefix"])}


def get_hotel_or_404(hotel_id: str) -> Hotel:
    hotel = db.session.get(Hotel, hotel_id) if len(hotel_id) <= 36 else None
    if hotel is None:
        raise Problem(404, "No hotel with this id.", type="not-found")
    return hotel


@blp.route("/hotels/<hotel_id>")
class HotelResource(MethodView):
    @blp.arguments(StayQuery(), location="query")
    @blp.response(200, HotelOut)
    def get(self, query: dict[str, Any], hotel_id: str) -> Response:
        """A hotel with its room types; with dates, each room type's free rooms."""
        # On every booking (the hotel page, and reservations pricing a hold): answered
        # as JSON directly, in the shape HotelOut documents (a test checks both agree).
        hotel = get_hotel_or_404(hotel_id)
        if not query.get("checkin"):
            return jsonify(actions.hotel_out(hotel))
        free = free_rooms(query["checkin"], query["checkout"], {rt.id: rt.rooms for rt in hotel.room_types})
        return jsonify(actions.hotel_out(hotel, free, with_availability=True))

    @blp.requires("search:write")
    @blp.arguments(HotelPatch)
    @blp.response(200, HotelOut)
    def patch(self, body: dict[str, Any], hotel_id: str) -> dict[str, Any]:
        """Change a hotel (scope search:write)."""
        hotel = get_hotel_or_404(hotel_id)
        moved = "city" in body or "country" in body
        if moved:
            actions.count_city(hotel.city, hotel.country, -1)
        for name, value in body.items():
            setattr(hotel, name, value)
        hotel.city_key = city_key(hotel.city)
        if moved:
            actions.count_city(hotel.city, hotel.country, +1)
        db.session.commit()
        return actions.hotel_out(hotel)

    @blp.requires("search:write")
    @blp.response(204)
    def delete(self, hotel_id: str) -> None:
        """Remove a hotel and its room types (scope search:write)."""
        hotel = get_hotel_or_404(hotel_id)
        actions.count_city(hotel.city, hotel.country, -1)
        db.session.delete(hotel)
        db.session.commit()


@blp.post("/hotels")
@blp.requires("search:write")
@blp.arguments(HotelIn)
@blp.response(201, HotelOut)
def create_hotel(body: dict[str, Any]) -> dict[str, Any]:
    """Add a hotel with its room types (scope search:write)."""
    room_types = body.pop("room_types")
    body["timezone"] = body.get("timezone") or timezone_of(body["city"], body["country"])
    hotel = Hotel(**body, city_key=city_key(body["city"]))
    hotel.room_types = [new_room_type(rt) for rt in room_types]
    hotel.refresh_summary()
    db.session.add(hotel)
    actions.count_city(hotel.city, hotel.country, +1)
    db.session.commit()
    return actions.hotel_out(hotel)


def new_room_type(body: dict[str, Any]) -> RoomType:
    price = body["nightly_price"]
    return RoomType(name=body["name"], capacity=body["capacity"], rooms=body["rooms"],
                    price_amount=price["amount"], currency=price["currency"],
                    **policy_columns(body.get("cancellation_policy") or {"kind": "flexible"}))


def policy_columns(policy: dict[str, Any]) -> dict[str, Any]:
    if policy.get("kind") == "non_refundable":
        return {"refundable": False, "free_cancellation_hours": 0, "nights_kept": 0}
    return {"refundable": True, "free_cancellation_hours": policy.get("free_cancellation_hours", 48),
            "nights_kept": policy.get("nights_kept", 1)}


@blp.post("/hotels/<hotel_id>/room-types")
@blp.requires("search:write")
@blp.arguments(RoomTypeIn)
@blp.response(201, RoomTypeOut)
def add_room_type(body: dict[str, Any], hotel_id: str) -> dict[str, Any]:
    """Add a room type to a hotel (scope search:write)."""
    hotel = get_hotel_or_404(hotel_id)
    room_type = new_room_type(body)
    hotel.room_types.append(room_type)
    hotel.refresh_summary()
    db.session.commit()
    return actions.room_type_out(room_type)


def get_room_type_or_404(hotel: Hotel, room_type_id: str) -> RoomType:
    for room_type in hotel.room_types:
        if room_type.id == room_type_id:
            return room_type
    raise Problem(404, "No room type with this id in this hotel.", type="not-found")


@blp.route("/hotels/<hotel_id>/room-types/<room_type_id>")
class RoomTypeResource(MethodView):
    @blp.requires("search:write")
    @blp.arguments(RoomTypePatch)
    @blp.response(200, RoomTypeOut)
    def patch(self, body: dict[str, Any], hotel_id: str, room_type_id: str) -> dict[str, Any]:
        """Change a room type (scope search:write)."""
        hotel = get_hotel_or_404(hotel_id)
        room_type = get_room_type_or_404(hotel, room_type_id)
        price = body.pop("nightly_price", None)
        if price:
            room_type.price_amount, room_type.currency = price["amount"], price["currency"]
        policy = body.pop("cancellation_policy", None)
        if policy:
            for name, value in policy_columns(policy).items():
                setattr(room_type, name, value)
        for name, value in body.items():
            setattr(room_type, name, value)
        hotel.refresh_summary()
        db.session.commit()
        return actions.room_type_out(room_type)

    @blp.requires("search:write")
    @blp.response(204)
    def delete(self, hotel_id: str, room_type_id: str) -> None:
        """Remove a room type (scope search:write)."""
        hotel = get_hotel_or_404(hotel_id)
        hotel.room_types.remove(get_room_type_or_404(hotel, room_type_id))
        hotel.refresh_summary()
        db.session.commit()
