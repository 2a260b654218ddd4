import copy

import pytest

from hotelbook_chassis.testing import bearer
from hotelbook_pdf import create_app

RECEIPT = {
    "reservation_id": "4f1c2a8e-2b51-4c55-9d1e-2a1b3c4d5e6f",
    "payment_id": "pay-7d3c",
    "hotel": {"name": "Hotel Limmatblick", "address": "Limmatquai 1", "city": "Zürich", "country": "CH"},
    "guest": {"name": "Zoë Ñúñez 山田太郎", "email": "zoe@example.test"},
    "room_type": "Double",
    "checkin": "2027-03-01",
    "checkout": "2027-03-03",
    "nights": 2,
    "guests": 2,
    "nightly_price": {"amount": 15000, "currency": "EUR"},
    "total": {"amount": 30000, "currency": "EUR"},
    "issued_at": "2027-02-01T10:00:00Z",
}


@pytest.fixture(scope="session")
def service_name():
    return "pdf-reporting"


@pytest.fixture(scope="session")
def app(service_config):
    return create_app(service_config)


@pytest.fixture
def receipt():
    return copy.deepcopy(RECEIPT)


@pytest.fixture
def renderer_token(token_factory):
    return bearer(token_factory("pdf:render", sub="reservations"))
