"""HTTP endpoints: translate requests to actions (the use cases) and back."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Response, current_app, g, jsonify, request
from flask.views import MethodView
from marshmallow import Schema

from hotelbook_chassis import Blueprint
from hotelbook_chassis.blueprint import ProblemParser
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

# Distinct query strings whose parsed arguments are kept (per process).
PARSED_QUERIES_KEPT = 4096


class KeptQueryParser(ProblemParser):
    """Query-string arguments parsed and validated once per distinct query string and day.

    A search's arguments depend on nothing but its query string and today's date
    (a stay must not start in the past), and the same searches come again and
    again; validating them with marshmallow each time was a sixth of a search
    with dates. A bad query string is never kept: it is refused each time.
    """

    def __init__(self) -> None:
        super().__init__()
        self._kept: dict[tuple[int, bytes, date], dict[str, Any]] = {}

    def parse(self, argmap: Any, req: Any = None, *, location: str | None = None, **kwargs: Any) -> Any:
        if location != "query" or not isinstance(argmap, Schema) or kwargs.get("validate") is not None:
            return super().parse(argmap, req, location=location, **kwargs)
        key = (id(argmap), request.query_string, date.today())
        parsed = self._kept.get(key)
        if parsed is None:
            parsed = super().parse(argmap, req, location=location, **kwargs)
            if len(self._kept) >= PARSED_QUERIES_KEPT:
                self._kept.clear()
            self._kept[key] = parsed
        return dict(parsed)  # the view may change its copy


class SearchBlueprint(Blueprint):
    ARGUMENTS_PARSER = KeptQueryParser()


blp = SearchBlueprint("search", __name__, description="Hotel catalogue and search")


@blp.before_request
def kept_answer() -> Response | None:
    """A search without dates answered again from the kept answer while the catalogue is unchanged
    (see actions/answers.py): no query parsing, SQL or JSON; the chassis' request hooks still run."""
    current = request._get_current_object()  # type: ignore[attr-defined]
    query_string = current.query_string
    if current.endpoint != "search.search_hotels" or current.method != "GET" or b"checkin" in query_string:
        return None  # (with dates the answer is never kept; a city named so is only not looked up)
    revision, body = current_app.extensions["search_answers"].lookup(query_string)
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
    body = actions.search_answer(query)
    if not query.get("checkin"):
        current_app.extensions["search_answers"].put(request.query_string, body, g.get("search_revision"), len(body))
    return Response(body, mimetype="application/json")


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
