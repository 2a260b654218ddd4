"""booking-ui under test: peers faked with ``responses`` at fixed URLs, sessions in a real database."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from hotelbook_ui import create_app

AUTH = "http://auth.test"
SEARCH = "http://search.test"
USERS = "http://users.test"
RESERVATIONS = "http://reservations.test"
PAYMENTS = "http://payments.test"
PUBLIC = "http://127.0.0.1:8080"

HOTEL_ID = "5b0c8f5e-8f1e-4d0e-9a44-0a4b1f7e2a11"
ROOM_ID = "0f3e2a7c-4a58-4f57-8c43-2f6d7c9e1b22"
USER_ID = "9d1f7e10-6f6c-4b3e-8a8f-1c2d3e4f5a6b"


@pytest.fixture(scope="session")
def service_name():
    return "booking-ui"


@pytest.fixture(scope="session")
def app(service_config):
    return create_app({
        **service_config,
        "AUTH_URL": AUTH, "SEARCH_URL": SEARCH, "USERS_URL": USERS, "RESERVATIONS_URL": RESERVATIONS,
        "PAYMENTS_URL": PAYMENTS, "PUBLIC_URL": PUBLIC, "REDIRECT_URI": f"{PUBLIC}/auth/callback",
        "CLIENT_ID": "booking-ui", "CLIENT_SECRET": "test-client-secret",
        "PEER_CONNECT_TIMEOUT": 0.5, "PEER_READ_TIMEOUT": 1.0,
    })


@pytest.fixture
def fake() -> Iterator[responses.RequestsMock]:
    """Every outbound call must be faked; a call to an unfaked URL fails the test."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def hotel(**overrides):
    return {
        "id": HOTEL_ID, "name": "Hotel Bellevue", "city": "Zürich", "country": "CH", "address": "Seestrasse 1",
        "stars": 4, "description": "By the lake.", "amenities": ["wifi", "breakfast"],
        "room_types": [{"id": ROOM_ID, "name": "Double room", "capacity": 2,
                        "nightly_price": {"amount": 12000, "currency": "EUR"}, "rooms": 3}],
        **overrides,
    }


def reservation(status="held", **overrides):
    return {
        "id": str(uuid.uuid4()), "user_id": USER_ID, "hotel_id": HOTEL_ID, "room_type_id": ROOM_ID,
        "checkin": "2027-03-01", "checkout": "2027-03-03", "guests": 2, "status": status,
        "total": {"amount": 24000, "currency": "EUR"},
        "hold_expires_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 600)),
        "payment_id": None, **overrides,
    }


def fake_jwt(sub=USER_ID):
    import base64
    import json

    def part(data):
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'ES256'})}.{part({'sub': sub, 'jti': uuid.uuid4().hex})}.c2ln"


def token_answer(access=None, refresh=None, expires_in=300):
    return {"access_token": access or fake_jwt(), "token_type": "Bearer", "expires_in": expires_in,
            "refresh_token": refresh or f"refresh-{uuid.uuid4().hex}", "scope": "guest"}


def log_in(client, fake, *, access="access-1", refresh="refresh-1", expires_in=300):
    """Go through /login and /auth/callback with auth and users faked."""
    response = client.get("/login", status=302)
    state = parse_qs(urlsplit(response.headers["Location"]).query)["state"][0]
    fake.post(f"{AUTH}/oauth/token", json=token_answer(access, refresh, expires_in))
    fake.get(f"{USERS}/users/me", json={"id": USER_ID, "email": "ada@example.com", "name": "Ada",
                                        "email_verified": True})
    client.get("/auth/callback", params={"code": "the-code", "state": state}, status=302)
    fake.remove(responses.POST, f"{AUTH}/oauth/token")
    return state


def form_bodies(fake, method, url):
    return [call.request for call in fake.calls if call.request.method == method and
            re.sub(r"\?.*", "", call.request.url) == url]
