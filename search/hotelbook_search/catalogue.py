"""Reading and writing the catalogue (the repository between the API and the tables)."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Connection, Select, bindparam, func, select, tuple_, update
from sqlalchemy.sql.elements import ColumnElement

from hotelbook_chassis.stays import money
from hotelbook_search.domain import RoomOffer, city_key
from hotelbook_search.models import City, Hotel, RoomType, db

SORT_COLUMNS = {"name": Hotel.name, "stars": Hotel.stars, "price": Hotel.min_price}


def sort_spec(sort: str) -> tuple[Any, bool]:
    """``-stars`` -> (Hotel.stars, descending)."""
    return SORT_COLUMNS[sort.lstrip("-")], sort.startswith("-")


SUMMARY_COLUMNS = (Hotel.id, Hotel.name, Hotel.city, Hotel.country, Hotel.address, Hotel.stars, Hotel.min_price,
                   Hotel.currency)


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


def find_hotels(query: dict[str, Any], after: dict[str, Any] | None, limit: int) -> list[Any]:
    """Summary rows of a city's hotels matching the filters, in sort order, after a keyset position.

    Plain rows from a Core statement on a pooled connection, without an ORM
    session: a search page is read-only and this is its hot path. The
    connection goes back to the pool before availability is asked for.
    """
    guests = query.get("guests", 1) > 1
    statement = search_statement(query["sort"], bool(query.get("stars")), bool(query.get("max_price")), guests,
                                 after is not None)
    params: dict[str, Any] = {"city_key": city_key(query["city"]), "limit": limit}
    if query.get("stars"):
        params["stars"] = query["stars"]
    if query.get("max_price"):
        params["max_price"] = query["max_price"]
    if guests:
        params["guests"] = query["guests"]
    if after is not None:
        params["after_value"], params["after_id"] = after["v"], after["id"]
    with db.engine.connect() as connection:
        return connection.execute(statement, params).all()


def position_of(hotel: Any, sort: str) -> dict[str, Any]:
    column, _ = sort_spec(sort)
    return {"v": getattr(hotel, column.key), "id": hotel.id}


# "expanding": one statement for any number of ids, rendered per call into IN (...).
OFFERS = select(RoomType.hotel_id, RoomType.id, RoomType.capacity, RoomType.price_amount, RoomType.currency,
                RoomType.rooms).where(RoomType.hotel_id.in_(bindparam("hotel_ids", expanding=True)))


def offers_by_hotel(hotel_ids: list[str]) -> dict[str, list[RoomOffer]]:
    """Every room type of these hotels, in one query."""
    found: dict[str, list[RoomOffer]] = {hotel_id: [] for hotel_id in hotel_ids}
    if hotel_ids:
        with db.engine.connect() as connection:
            rows = connection.execute(OFFERS, {"hotel_ids": hotel_ids}).all()
        for hotel_id, *offer in rows:
            found[hotel_id].append(RoomOffer(*offer))
    return found


def room_type_out(rt: RoomType, free: int | None = None, known: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"id": rt.id, "name": rt.name, "capacity": rt.capacity,
                           "nightly_price": money(rt.price_amount, rt.currency), "rooms": rt.rooms}
    if known:
        out["free"] = free
        out["available"] = None if free is None else free > 0
    return out


def hotel_out(hotel: Hotel, free: dict[str, int] | None = None, with_availability: bool = False) -> dict[str, Any]:
    return {
        "id": hotel.id, "name": hotel.name, "city": hotel.city, "country": hotel.country,
        "address": hotel.address, "stars": hotel.stars, "description": hotel.description,
        "amenities": list(hotel.amenities or []),
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
