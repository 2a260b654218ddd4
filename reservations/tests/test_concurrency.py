"""Fifty guests race for the last room against a real gunicorn with several workers."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import requests
from sqlalchemy import create_engine, text

from hotelbook_chassis.testing import TEST_ISSUER, ServiceProcess, bearer
from tests.conftest import HOTEL_ID, ROOM_ID, hotel, stay


def test_fifty_concurrent_holds_for_one_room(migrated_app, database_url, fake_peer, token_factory, tmp_path):
    fake_peer.routes[f"/hotels/{HOTEL_ID}"] = hotel(rooms=1)
    env = {"DATABASE_URL": database_url, "JWKS_URL": f"{fake_peer.url}/.well-known/jwks.json",
           "OAUTH_ISSUER": TEST_ISSUER, "SEARCH_URL": fake_peer.url, "SECRET_KEY": "concurrency-test",
           "VAR_DIR": str(tmp_path), "JSON_LOGS": "0", "LOG_LEVEL": "WARNING"}
    checkin, checkout = stay(90, 3)
    body = {"hotel_id": HOTEL_ID, "room_type_id": ROOM_ID, "checkin": checkin, "checkout": checkout, "guests": 2}
    tokens = [token_factory("guest", sub=f"racer-{i}") for i in range(50)]

    with ServiceProcess("hotelbook_reservations:create_app()", env, workers=4, name="reservations") as service:
        def attempt(token: str) -> requests.Response:
            return requests.post(f"{service.url}/reservations", json=body, headers=bearer(token), timeout=60)

        with ThreadPoolExecutor(max_workers=50) as pool:
            answers = list(pool.map(attempt, tokens))

    statuses = sorted(a.status_code for a in answers)
    assert statuses.count(201) == 1, statuses
    assert statuses.count(409) == 49, statuses
    assert all(a.headers["Content-Type"].startswith("application/problem+json") for a in answers
               if a.status_code == 409)
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            booked = conn.execute(text("SELECT booked FROM night_counts WHERE room_type_id = :rt"),
                                  {"rt": ROOM_ID}).scalars().all()
            held = conn.execute(text("SELECT count(*) FROM reservations WHERE status = 'held'")).scalar()
    finally:
        engine.dispose()
    assert booked == [1, 1, 1]
    assert held == 1
