"""The catalogue's use cases: search, a hotel's page, the admin writes; and the SQL they run on the tables."""

from __future__ import annotations

from collections.abc import Hashable
from functools import cache, lru_cache
from typing import Any

from flask import current_app
from sqlalchemy import Connection, Select, bindparam, func, select, tuple_, update
from sqlalchemy.sql.elements import ColumnElement

from hotelbook_chassis import Problem
from hotelbook_chassis.database import get_or_404
from hotelbook_chassis.pagination import decode_page_token, encode_page_token, page
from hotelbook_chassis.stays import money, nights
from hotelbook_search.clients import asked_json, availability_answer, free_rooms, parse_free
from hotelbook_search.domain import RoomOffer, cancellation_policy, cheapest_fitting, city_key, offer_policy
from hotelbook_search.domain.taxes import vat_percent
from hotelbook_search.domain.timezones import timezone_of
from hotelbook_search.models import City, Hotel, RoomType, db

SORT_COLUMNS = {"name": Hotel.name, "stars": Hotel.stars, "price": Hotel.min_price}


def sort_spec(sort: str) -> tuple[Any, bool]:
    """``-stars`` -> (Hotel.stars, descending)."""
    return SORT_COLUMNS[sort.lstrip("-")], sort.startswith("-")


SUMMARY_COLUMNS = (Hotel.id, Hotel.name, Hotel.city, Hotel.country, Hotel.address, Hotel.stars, Hotel.min_price,
                   Hotel.currency)
SUMMARY_INDEX = {column.key: index for index, column in enumerate(SUMMARY_COLUMNS)}


@cache
def search_statement(sort: str, stars: bool, max_price: bool, guests: bool, after: bool) -> Select[Any]:
    """The one statement of a search shape, built once: the values travel as bound parameters.

    Built per shape and reused, so a request neither builds a statement nor
    computes its cache key again; there are 5 sorts x 16 filter shapes at most.
    """
    column, descending = sort_spec(sort)
    conditions: list[ColumnElement[bool]] = [Hotel.city_key == bindparam("city_key")]
    if stars:
        conditions.append(Hotel.stars >= bindparam("stars"))
    if max_price:
        conditions.append(Hotel.min_price <= bindparam("max_price"))
    if guests:
        conditions.append(Hotel.max_capacity >= bindparam("guests"))
    if after:
        position = tuple_(column, Hotel.id)
        value = tuple_(bindparam("after_value", type_=column.type), bindparam("after_id", type_=Hotel.id.type))
        conditions.append(position < value if descending else position > value)
    order = (column.desc(), Hotel.id.desc()) if descending else (column.asc(), Hotel.id.asc())
    return select(*SUMMARY_COLUMNS).where(*conditions).order_by(*order).limit(bindparam("limit"))


@cache
def offers_statement(*shape: Any) -> Select[Any]:
    """A search page (see search_statement) with every room type of its hotels, in one query.

    One row per room type (a hotel without any: one row of NULLs), in page order.
    """
    page = search_statement(*shape).subquery("page")
    column, descending = sort_spec(shape[0])
    sort_column, id_column = page.c[column.key], page.c.id
    order = (sort_column.desc(), id_column.desc()) if descending else (sort_column.asc(), id_column.asc())
    return (select(*page.c, RoomType.id, RoomType.capacity, RoomType.price_amount, RoomType.currency, RoomType.rooms,
                   RoomType.refundable, RoomType.free_cancellation_hours, RoomType.nights_kept)
            .select_from(page.outerjoin(RoomType, RoomType.hotel_id == id_column)).order_by(*order))


def _shape_and_params(query: dict[str, Any], after: dict[str, Any] | None, limit: int
                      ) -> tuple[tuple[Any, ...], dict[str, Any]]:
    guests = query.get("guests", 1) > 1
    shape = (query["sort"], bool(query.get("stars")), bool(query.get("max_price")), guests, after is not None)
    params: dict[str, Any] = {"city_key": city_key(query["city"]), "limit": limit}
    if query.get("stars"):
        params["stars"] = query["stars"]
    if query.get("max_price"):
        params["max_price"] = query["max_price"]
    if guests:
        params["guests"] = query["guests"]
    if after is not None:
        params["after_value"], params["after_id"] = after["v"], after["id"]
    return shape, params


def find_hotels(query: dict[str, Any], after: dict[str, Any] | None, limit: int) -> list[Any]:
    """Summary rows (SUMMARY_COLUMNS) of a city's hotels matching the filters, in sort order, after a keyset position.

    Plain rows from a cached Core statement on a pooled connection, without an
    ORM session: a search page is read-only and this is its hot path.
    """
    shape, params = _shape_and_params(query, after, limit)
    with db.engine.connect() as connection:
        return connection.execute(search_statement(*shape), params).all()


def find_hotels_with_offers(query: dict[str, Any], after: dict[str, Any] | None, limit: int
                            ) -> list[tuple[Any, list[RoomOffer]]]:
    """Like find_hotels, each summary row with the hotel's room types, in one query.

    The connection goes back to the pool before availability is asked for.
    """
    shape, params = _shape_and_params(query, after, limit)
    with db.engine.connect() as connection:
        rows = connection.execute(offers_statement(*shape), params).all()
    found: list[tuple[Any, list[RoomOffer]]] = []
    width = len(SUMMARY_COLUMNS)
    for row in rows:
        if not found or found[-1][0][0] != row[0]:
            found.append((row[:width], []))
        if row[width] is not None:
            found[-1][1].append(RoomOffer(*row[width:]))
    return found


def position_of(hotel: tuple[Any, ...], sort: str) -> dict[str, Any]:
    """The keyset position of a summary row (SUMMARY_COLUMNS) in a list sorted by ``sort``."""
    column, _ = sort_spec(sort)
    return {"v": hotel[SUMMARY_INDEX[column.key]], "id": hotel[0]}


def room_type_out(rt: RoomType, free: int | None = None, known: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"id": rt.id, "name": rt.name, "capacity": rt.capacity,
                           "nightly_price": money(rt.price_amount, rt.currency), "rooms": rt.rooms,
                           "cancellation_policy": cancellation_policy(rt.refundable, rt.free_cancellation_hours,
                                                                      rt.nights_kept)}
    if known:
        out["free"] = free
        out["available"] = None if free is None else free > 0
    return out


def hotel_out(hotel: Hotel, free: dict[str, int] | None = None, with_availability: bool = False) -> dict[str, Any]:
    return {
        "id": hotel.id, "name": hotel.name, "city": hotel.city, "country": hotel.country,
        "address": hotel.address, "stars": hotel.stars, "description": hotel.description,
        "amenities": list(hotel.amenities or []), "timezone": hotel.timezone,
        "vat_percent": vat_percent(hotel.country),
        "room_types": [room_type_out(rt, None if free is None else free.get(rt.id, 0), with_availability)
                       for rt in hotel.room_types],
    }


def cities(prefix: str, limit: int = 10) -> list[City]:
    key = city_key(prefix)
    # A range, not LIKE: it uses the plain b-tree index on every database.
    statement = select(City).where(City.hotels > 0)
    if key:
        statement = statement.where(City.city_key >= key, City.city_key < key + "\uffff")
    return list(db.session.scalars(statement.order_by(City.hotels.desc(), City.name).limit(limit)))


def count_city(name: str, country: str, delta: int) -> None:
    key = city_key(name)
    row_key = f"{key}|{country}"
    if db.session.get(City, row_key) is None:
        db.session.add(City(key=row_key, city_key=key, name=name, country=country, hotels=0))
        db.session.flush()
    db.session.execute(update(City).where(City.key == row_key).values(hotels=City.hotels + delta))


def recount_cities(connection: Connection | None = None) -> None:
    """Rebuild the city table from the hotels (after a bulk seed), on ``connection`` or the session."""
    run = (connection or db.session).execute
    run(City.__table__.delete())
    rows = run(
        select(Hotel.city_key, Hotel.city, Hotel.country, func.count()).group_by(Hotel.city_key, Hotel.city,
                                                                                 Hotel.country))
    merged: dict[str, dict[str, Any]] = {}
    for key, name, country, count in rows:
        entry = merged.setdefault(f"{key}|{country}", {"key": f"{key}|{country}", "city_key": key, "name": name,
                                                      "country": country, "hotels": 0})
        entry["hotels"] += count
    if merged:
        run(City.__table__.insert(), list(merged.values()))


# --- the use cases behind the endpoints ----------------------------------------------


def hotel_page(hotel_id: str, query: dict[str, Any]) -> dict[str, Any]:
    """A hotel with its room types; with dates, each room type's free rooms.

    On every booking (the guest's hotel page, reservations pricing a hold): the
    page without dates is kept per hotel while the catalogue is unchanged (see
    answers.py); with dates, availability is asked every time.
    """
    kept = current_app.extensions["search_hotels"]
    key = hotel_id if len(hotel_id) <= 36 else None
    revision, page = kept.lookup(key) if key else (None, None)
    if page is None:
        hotel = get_hotel_or_404(hotel_id)
        page = hotel_out(hotel)
        kept.put(key, page, revision, HOTEL_PAGE_BYTES * (len(page["room_types"]) + 1))
    if not query.get("checkin"):
        return page
    free = free_rooms(query["checkin"], query["checkout"], {rt["id"]: rt["rooms"] for rt in page["room_types"]})
    return {**page, "room_types": [
        {**rt, "free": None if free is None else free.get(rt["id"], 0),
         "available": None if free is None else free.get(rt["id"], 0) > 0}
        for rt in page["room_types"]]}


# A kept hotel page's estimated size per room type.
HOTEL_PAGE_BYTES = 600


def update_hotel(hotel_id: str, body: dict[str, Any]) -> dict[str, Any]:
    hotel = get_hotel_or_404(hotel_id)
    moved = "city" in body or "country" in body
    if moved:
        count_city(hotel.city, hotel.country, -1)
    for name, value in body.items():
        setattr(hotel, name, value)
    hotel.city_key = city_key(hotel.city)
    if moved:
        count_city(hotel.city, hotel.country, +1)
    db.session.commit()
    return hotel_out(hotel)


def delete_hotel(hotel_id: str) -> None:
    hotel = get_hotel_or_404(hotel_id)
    count_city(hotel.city, hotel.country, -1)
    db.session.delete(hotel)
    db.session.commit()


def create_hotel(body: dict[str, Any]) -> dict[str, Any]:
    room_types = body.pop("room_types")
    body["timezone"] = body.get("timezone") or timezone_of(body["city"], body["country"])
    hotel = Hotel(**body, city_key=city_key(body["city"]))
    hotel.room_types = [new_room_type(rt) for rt in room_types]
    hotel.refresh_summary()
    db.session.add(hotel)
    count_city(hotel.city, hotel.country, +1)
    db.session.commit()
    return hotel_out(hotel)


def add_room_type(hotel_id: str, body: dict[str, Any]) -> dict[str, Any]:
    hotel = get_hotel_or_404(hotel_id)
    room_type = new_room_type(body)
    hotel.room_types.append(room_type)
    hotel.refresh_summary()
    db.session.commit()
    return room_type_out(room_type)


def update_room_type(hotel_id: str, room_type_id: str, body: dict[str, Any]) -> dict[str, Any]:
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
    return room_type_out(room_type)


def delete_room_type(hotel_id: str, room_type_id: str) -> None:
    hotel = get_hotel_or_404(hotel_id)
    hotel.room_types.remove(get_room_type_or_404(hotel, room_type_id))
    hotel.refresh_summary()
    db.session.commit()


# With dates, availability may drop candidates: look at a few more than a page,
# still with one availability call per page.
OVERFETCH = 3


def search_answer(query: dict[str, Any]) -> bytes:
    """A search's page (the HotelPage shape) as the JSON body of its answer."""
    salt = f"hotels:{city_key(query['city'])}:{query['sort']}"
    after = decode_page_token(query.get("next_token"), salt)
    limit = query["limit"]
    checkin, checkout = query.get("checkin"), query.get("checkout")
    if not checkin:
        hotels = find_hotels(query, after, limit + 1)
        more = len(hotels) > limit
        hotels = hotels[:limit]
        items = [summary(h) for h in hotels]
        return json_body(kept_page(items, position_of(hotels[-1], query["sort"]) if more else None, salt))

    revision, found, asked = offered_hotels(query, after, limit * OVERFETCH + 1)
    answer = availability_answer(checkin, checkout, asked)
    if answer is None:
        return json_body(dated_page(query, found, None, salt))
    # The page is a function of the query, the candidates and this answer: when
    # reservations answers as it did last time, it is the page made then.
    key = (tuple(sorted(query.items())), answer)
    pages = current_app.extensions["search_pages"]
    _, body = pages.lookup(key, revision)  # (the revision the candidates were read under, not read again)
    if body is None:
        body = json_body(dated_page(query, found, parse_free(answer), salt))
        pages.put(key, body, revision, len(answer) + len(body))
    return body


def json_body(value: Any) -> bytes:
    """``value`` as Flask's ``jsonify`` writes it (compact, key order kept, a final newline)."""
    return (current_app.json.dumps(value, separators=(",", ":")) + "\n").encode()


def dated_page(query: dict[str, Any], found: list[tuple[Any, list[RoomOffer]]], free: dict[str, int] | None,
               salt: str) -> dict[str, Any]:
    """A page of candidates (one more than fit when there are more) priced for the stay; unavailable ones left out."""
    limit, guests, checkin, checkout = query["limit"], query["guests"], query["checkin"], query["checkout"]
    exhausted = len(found) <= limit * OVERFETCH
    found = found[: limit * OVERFETCH]
    candidates = [hotel for hotel, _ in found]
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
    return kept_page(items, None if done or last is None else position_of(last, query["sort"]), salt)


def kept_page(items: list[Any], position: dict[str, Any] | None, salt: str) -> dict[str, Any]:
    """The chassis' ``page``, its signed next_token made once per position (a search's pages repeat)."""
    if position is None:
        return page(items, None, salt)
    return {"items": items,
            "next_token": _page_token(current_app.config["SECRET_KEY"], salt, position["v"], position["id"])}


@lru_cache(maxsize=4096)
def _page_token(secret_key: str, salt: str, value: Any, hotel_id: str) -> str:
    # secret_key is part of the key only: encode_page_token signs with the app's own.
    return encode_page_token({"v": value, "id": hotel_id}, salt)


# A kept candidate list's estimated size per hotel (a summary row and two or three room types).
CANDIDATE_BYTES = 600


def offered_hotels(query: dict[str, Any], after: dict[str, Any] | None, limit: int
                   ) -> tuple[Hashable | None, list[tuple[Any, list[RoomOffer]]], bytes]:
    """find_hotels_with_offers, and the room types to ask availability for (clients.asked_json: those of the
    first ``limit - 1`` hotels that fit the guests), kept while the catalogue is unchanged (see answers.py),
    with the catalogue's revision read before them (None: not kept).

    They do not depend on the dates, so every stay asked for in a city shares them.
    """
    position = None if after is None else (after.get("v"), after.get("id"))
    key = (city_key(query["city"]), query["sort"], query.get("stars"), query.get("max_price"), query["guests"],
           position, limit)
    kept = current_app.extensions["search_candidates"]
    hashable = position is None or all(isinstance(value, str | int | float) for value in position)
    revision, offered = kept.lookup(key) if hashable else (None, None)
    if offered is None:
        found = find_hotels_with_offers(query, after, limit)
        guests = query["guests"]
        asked = asked_json({o.room_type_id: o.rooms for _, offers in found[: limit - 1] for o in offers
                            if o.capacity >= guests})
        offered = (found, asked)
        if hashable:
            kept.put(key, offered, revision, CANDIDATE_BYTES * (len(found) + 1) + len(asked))
    return revision, offered[0], offered[1]


def summary(hotel: Any) -> dict[str, Any]:
    """A HotelSummary from a row of SUMMARY_COLUMNS (unpacked: cheaper than attribute access)."""
    hotel_id, name, city, country, address, stars, min_price, currency = hotel
    return {
        "id": hotel_id, "name": name, "city": city, "country": country, "address": address, "stars": stars,
        "nightly_price_from": {"amount": min_price, "currency": currency},
    }


def get_hotel_or_404(hotel_id: str) -> Hotel:
    return get_or_404(Hotel, hotel_id, "No hotel with this id.")


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


def get_room_type_or_404(hotel: Hotel, room_type_id: str) -> RoomType:
    for room_type in hotel.room_types:
        if room_type.id == room_type_id:
            return room_type
    raise Problem(404, "No room type with this id in this hotel.", type="not-found")
