import pytest

from hotelbook_search import create_app

RESERVATIONS = "http://reservations.test"


@pytest.fixture(scope="session")
def service_name():
    return "search"


@pytest.fixture(scope="session")
def app(service_config):
    # No client credentials: availability calls go out without a token (faked peers do not care).
    return create_app({**service_config, "RESERVATIONS_URL": RESERVATIONS})


@pytest.fixture
def admin(token_factory):
    from hotelbook_chassis.testing import bearer

    return bearer(token_factory("search:write"))


@pytest.fixture
def make_hotel(client, admin):
    def make(name="Hotel Limmat", city="Zürich", stars=4, rooms=(("Double", 2, 12000, 5),), **extra):
        body = {"name": name, "city": city, "country": "CH", "stars": stars, "address": "Limmatquai 1",
                "room_types": [{"name": n, "capacity": c, "nightly_price": {"amount": p, "currency": "EUR"},
                                "rooms": r} for n, c, p, r in rooms], **extra}
        return client.post_json("/hotels", body, headers=admin, status=201).json

    return make
