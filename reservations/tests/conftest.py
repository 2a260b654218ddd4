from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest

from hotelbook_chassis.testing import PeerServer, bearer, json_routes
from hotelbook_reservations import create_app

SEARCH = "http://search.test"
PAYMENTS = "http://payments.test"
USERS = "http://users.test"
PDF = "http://pdf.test"
HOTEL_ID = "0b7d2f3e-0000-4000-8000-000000000001"
ROOM_ID = "0b7d2f3e-0000-4000-8000-0000000000aa"


FLEXIBLE_48H = {"kind": "flexible", "free_cancellation_hours": 48, "nights_kept": 1, "checkin_time": "15:00",
                "description": "Free cancellation until 48 hours before check-in; after that the first night is kept."}
NON_REFUNDABLE = {"kind": "non_refundable", "free_cancellation_hours": 0, "nights_kept": 0, "checkin_time": "15:00",
                  "description": "Non-refundable: the full price is kept if you cancel."}


def hotel(rooms: int = 2, price: int = 12000, capacity: int = 2, policy: dict | None = None,
          timezone: str = "Europe/Zurich", vat_percent: str | None = "3.8") -> dict[str, Any]:
    return {"id": HOTEL_ID, "name": "Hotel Limmat", "city": "Zürich", "country": "CH", "address": "Limmatquai 1",
            "stars": 4, "timezone": timezone, "vat_percent": vat_percent,
            "room_types": [{"id": ROOM_ID, "name": "Double", "capacity": capacity, "rooms": rooms,
                            "nightly_price": {"amount": price, "currency": "EUR"},
                            "cancellation_policy": policy or FLEXIBLE_48H}]}


def stay(offset: int = 30, length: int = 2) -> tuple[str, str]:
    checkin = date.today() + timedelta(days=offset)
    return checkin.isoformat(), (checkin + timedelta(days=length)).isoformat()


@pytest.fixture(scope="session")
def service_name():
    return "reservations"


@pytest.fixture(scope="session")
def app(service_config):
    return create_app({**service_config, "SEARCH_URL": SEARCH, "PAYMENTS_URL": PAYMENTS, "USERS_URL": USERS,
                       "PDF_REPORTING_URL": PDF})


@pytest.fixture
def guest(token_factory):
    def make(sub: str = "guest-1") -> dict[str, str]:
        return bearer(token_factory("guest", sub=sub))

    return make


@pytest.fixture
def payments_token(token_factory):
    return bearer(token_factory("reservations:confirm reservations:read", sub="payments"))


class FakePeer(PeerServer):
    """search and auth's JWKS at a real address for process tests: a JSON body per path (tests add paths)."""

    def __init__(self, routes: dict[str, Any]) -> None:
        self.routes = routes
        super().__init__(json_routes(routes))


@pytest.fixture
def fake_peer(jwks) -> Iterator[FakePeer]:
    with FakePeer({"/.well-known/jwks.json": jwks}) as peer:
        yield peer
