"""Business metrics: confirmed bookings and expired holds, counted once each."""

from prometheus_client import REGISTRY

from tests.test_api import expire_now, hold, search_has  # noqa: F401 (fixture)


def value(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


def test_confirmed_bookings_are_counted_once(client, guest, payments_token, search_has):  # noqa: F811
    search_has()
    before = value("hotelbook_bookings_confirmed_total")
    held = hold(client, guest(), offset=60).json
    client.post_json(f"/reservations/{held['id']}/confirm", {"payment_id": "m1"}, headers=payments_token)
    client.post_json(f"/reservations/{held['id']}/confirm", {"payment_id": "m1"}, headers=payments_token)
    assert value("hotelbook_bookings_confirmed_total") == before + 1
    assert "hotelbook_bookings_confirmed_total" in client.get("/metrics").text


def test_expired_holds_are_counted_once(client, clean_db, guest, search_has):  # noqa: F811
    search_has(rooms=3)
    before = value("hotelbook_holds_expired_total")
    first = hold(client, guest("a"), offset=70).json
    second = hold(client, guest("b"), offset=70).json
    expire_now(clean_db, first["id"])
    expire_now(clean_db, second["id"])
    client.get(f"/reservations/{first['id']}", headers=guest("a"))  # expired on read
    clean_db.test_cli_runner().invoke(args=["sweep"])
    clean_db.test_cli_runner().invoke(args=["sweep"])
    assert value("hotelbook_holds_expired_total") == before + 2
