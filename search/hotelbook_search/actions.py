"""Reading and writing the catalogue (the repository between the API and the tables)."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Connection, Select, bindparam, func, select, tuple_, update
from sqlalchemy.sql.elements import ColumnElement

from hotelbook_chassis.stays import money
from hotelbook_search.domain import RoomOffer, cancellation_policy, city_key
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
