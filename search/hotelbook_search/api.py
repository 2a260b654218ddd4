"""HTTP endpoints: translate requests to actions (the use cases) and back."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, g, jsonify, request
from flask.views import MethodView

from hotelbook_chassis import Blueprint
from hotelbook_search import actions
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
    response = jsonify(actions.search_page(query))
    if not query.get("checkin"):
        body = response.get_data()
        current_app.extensions["search_answers"].put(request.query_string, body, g.get("search_revision"), len(body))
    return response


@blp.get("/cities")
@blp.arguments(CityQuery(), location="query")
@blp.response(200, CityPage)
def list_cities(query: dict[str, Any]) -> dict[str, Any]:
    """Cities with hotels whose name starts with ``prefix`` (accents and case ignored), busiest first."""
    return {"items": actions.cities(query["prefix"])}


@blp.route("/hotels/<hotel_id>")
class HotelResource(MethodView):
    @blp.arguments(StayQuery(), location="query")
    @blp.response(200, HotelOut)
    def get(self, query: dict[str, Any], hotel_id: str) -> Response:
        """A hotel with its room types; with dates, each room type's free rooms."""
        # On every booking (the hotel page, and reservations pricing a hold): answered
        # as JSON directly, in the shape HotelOut documents (a test checks both agree).
        return jsonify(actions.hotel_page(hotel_id, query))

    @blp.requires("search:write")
    @blp.arguments(HotelPatch)
    @blp.response(200, HotelOut)
    def patch(self, body: dict[str, Any], hotel_id: str) -> dict[str, Any]:
        """Change a hotel (scope search:write)."""
        return actions.update_hotel(hotel_id, body)

    @blp.requires("search:write")
    @blp.response(204)
    def delete(self, hotel_id: str) -> None:
        """Remove a hotel and its room types (scope search:write)."""
        actions.delete_hotel(hotel_id)


@blp.post("/hotels")
@blp.requires("search:write")
@blp.arguments(HotelIn)
@blp.response(201, HotelOut)
def create_hotel(body: dict[str, Any]) -> dict[str, Any]:
    """Add a hotel with its room types (scope search:write)."""
    return actions.create_hotel(body)


@blp.post("/hotels/<hotel_id>/room-types")
@blp.requires("search:write")
@blp.arguments(RoomTypeIn)
@blp.response(201, RoomTypeOut)
def add_room_type(body: dict[str, Any], hotel_id: str) -> dict[str, Any]:
    """Add a room type to a hotel (scope search:write)."""
    return actions.add_room_type(hotel_id, body)


@blp.route("/hotels/<hotel_id>/room-types/<room_type_id>")
class RoomTypeResource(MethodView):
    @blp.requires("search:write")
    @blp.arguments(RoomTypePatch)
    @blp.response(200, RoomTypeOut)
    def patch(self, body: dict[str, Any], hotel_id: str, room_type_id: str) -> dict[str, Any]:
        """Change a room type (scope search:write)."""
        return actions.update_room_type(hotel_id, room_type_id, body)

    @blp.requires("search:write")
    @blp.response(204)
    def delete(self, hotel_id: str, room_type_id: str) -> None:
        """Remove a room type (scope search:write)."""
        actions.delete_room_type(hotel_id, room_type_id)
