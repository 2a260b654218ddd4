import io
import time
import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import inspect

from hotelbook_chassis.testing import bearer

CHECKIN = (date.today() + timedelta(days=30)).isoformat()
CHECKOUT = (date.today() + timedelta(days=32)).isoformat()


def stay(**extra):
    return {"city": "zurich", "checkin": CHECKIN, "checkout": CHECKOUT, **extra}


def test_admin_writes_need_search_write(client, token_factory):
    body = {"name": "X", "city": "Bern", "country": "CH", "stars": 3}
    client.post_json("/hotels", body, status=401)
    client.post_json("/hotels", body, headers=bearer(token_factory("guest")), status=403)


def test_city_search_is_accent_and_case_insensitive(client, make_hotel):
    hotel = make_hotel()
    make_hotel(name="Elsewhere", city="Bern")
    for city in ("zurich", "ZÜRICH", "Zürich"):
        items = client.get("/hotels", {"city": city}).json["items"]
        assert [item["id"] for item in items] == [hotel["id"]]


def test_cities_autocomplete(client, make_hotel):
    make_hotel(city="Zürich")
    make_hotel(name="Two", city="Zürich")
    make_hotel(city="Zug")
    body = client.get("/cities", {"prefix": "zu"}).json
    assert body["items"][0] == {"name": "Zürich", "country": "CH", "hotels": 2}
    assert {c["name"] for c in body["items"]} == {"Zürich", "Zug"}
    assert client.get("/cities", {"prefix": "zür"}).json["items"][0]["name"] == "Zürich"


def test_hotel_detail_and_404(client, make_hotel):
    hotel = make_hotel()
    got = client.get(f"/hotels/{hotel['id']}").json
    assert got["room_types"][0]["nightly_price"] == {"amount": 12000, "currency": "EUR"}
    response = client.get("/hotels/00000000-0000-0000-0000-000000000000", status=404)
    assert response.content_type == "application/problem+json"
    client.get("/hotels/" + "x" * 300, status=404)


def test_dates_bring_availability_in_one_batched_call(client, make_hotel, reservations):
    full = make_hotel(name="Full", rooms=(("Double", 2, 9000, 1),))
    free = make_hotel(name="Free", rooms=(("Double", 2, 15000, 2), ("Family", 4, 30000, 1)))
    small = make_hotel(name="Small", rooms=(("Single", 1, 5000, 4),))

    def availability(body):
        answer = {rt["room_type_id"]: rt["rooms"] for rt in body["room_types"]}
        answer[full["room_types"][0]["id"]] = 0
        return 200, {"room_types": [{"room_type_id": k, "free": v} for k, v in answer.items()]}

    reservations.answer = availability
    items = client.get("/hotels", stay(guests=2)).json["items"]
    calls = reservations.calls
    assert len(calls) == 1
    assert calls[0]["checkin"] == CHECKIN
    # Single rooms do not fit two guests, so they are not asked about.
    assert small["room_types"][0]["id"] not in {rt["room_type_id"] for rt in calls[0]["room_types"]}
    assert [item["name"] for item in items] == ["Free"]
    assert items[0]["available"] is True
    assert items[0]["stay_price"] == {"amount": 30000, "currency": "EUR"}
    assert free["id"] == items[0]["id"]


@pytest.mark.parametrize("answer", [None, (200, b"{not json"), (200, {"room_types": [{"free": 1}]})])
def test_reservations_down_still_answers_with_unknown_availability(client, make_hotel, reservations, answer):
    make_hotel()
    reservations.answer = lambda body: answer  # None: the connection dropped unanswered
    for _ in range(2):  # also on the kept-alive connection of the first
        response = client.get("/hotels", stay(guests=2))
        assert response.status_int == 200
        assert response.json["items"][0]["available"] is None
        assert response.json["items"][0]["stay_price"] == {"amount": 24000, "currency": "EUR"}


def test_reservations_error_answer_is_unknown_not_500(client, make_hotel, reservations):
    make_hotel()
    reservations.answer = lambda body: (500, {"title": "boom"})
    assert client.get("/hotels", stay()).json["items"][0]["available"] is None


def test_a_slow_reservations_makes_availability_unknown_within_the_timeout(client, make_hotel, reservations):
    make_hotel()
    reservations.answer = lambda body: (200, {"room_types": [{"room_type_id": rt["room_type_id"], "free": 1}
                                                             for rt in body["room_types"]]})
    reservations.delay = 6  # the read timeout is 1 s
    started = time.monotonic()
    assert client.get("/hotels", stay()).json["items"][0]["available"] is None
    # Well below the peer's delay: the answer did not wait for it (a wide margin for a loaded machine).
    assert time.monotonic() - started < 4
    reservations.delay = 0
    assert client.get("/hotels", stay()).json["items"][0]["available"] is True


def test_availability_goes_out_with_the_request_id_on_a_kept_alive_connection(app, client, make_hotel, reservations):
    make_hotel()
    reservations.answer = lambda body: (200, {"room_types": [{"room_type_id": rt["room_type_id"], "free": 1}
                                                             for rt in body["room_types"]]})
    for request_id in ("first-search", "second-search"):
        item = client.get("/hotels", stay(), headers={"X-Request-ID": request_id}).json["items"][0]
        assert item["available"] is True
    assert [headers["X-Request-ID"] for headers in reservations.headers] == ["first-search", "second-search"]
    assert len(set(reservations.peers)) == 1  # one connection for both


def test_paging_has_no_duplicates_or_gaps(client, make_hotel):
    ids = {make_hotel(name=f"Hotel {i:02d}", stars=1 + i % 5)["id"] for i in range(23)}
    for sort in ("name", "-stars", "price"):
        seen, token = [], None
        while True:
            params = {"city": "Zürich", "limit": 5, "sort": sort, **({"next_token": token} if token else {})}
            body = client.get("/hotels", params).json
            seen += [item["id"] for item in body["items"]]
            token = body["next_token"]
            if not token:
                break
        assert len(seen) == len(set(seen)) == 23
        assert set(seen) == ids


def test_filters(client, make_hotel):
    make_hotel(name="Cheap", stars=2, rooms=(("Double", 2, 8000, 1),))
    make_hotel(name="Posh", stars=5, rooms=(("Suite", 4, 40000, 1),))
    names = lambda **q: [i["name"] for i in client.get("/hotels", {"city": "zurich", **q}).json["items"]]  # noqa: E731
    assert names(stars=4) == ["Posh"]
    assert names(max_price=10000) == ["Cheap"]
    assert names(guests=3) == ["Posh"]
    assert names(sort="-price") == ["Posh", "Cheap"]


@pytest.mark.parametrize("params, field", [
    ({"limit": 0}, "limit"), ({"limit": 101}, "limit"), ({"sort": "random"}, "sort"),
    ({"checkin": CHECKIN, "checkout": CHECKIN}, "checkout"),
    ({"checkin": "2020-01-01", "checkout": "2020-01-03"}, "checkin"),
    ({"checkin": CHECKIN, "checkout": (date.today() + timedelta(days=61)).isoformat()}, "checkout"),
    ({"next_token": "forged.token"}, "next_token"), ({"guests": 0}, "guests"), ({"checkin": "soon"}, "checkin"),
    ({"city": ""}, "city"),
])
def test_bad_input_names_the_field(client, params, field):
    response = client.get("/hotels", {"city": "zurich", **params}, status=400)
    assert response.content_type == "application/problem+json"
    assert field in {p["name"] for p in response.json["invalid_params"]}


def test_next_token_of_another_query_is_refused(client, make_hotel):
    for i in range(3):
        make_hotel(name=f"H{i}")
    token = client.get("/hotels", {"city": "zurich", "limit": 1}).json["next_token"]
    client.get("/hotels", {"city": "bern", "limit": 1, "next_token": token}, status=400)


def test_admin_update_and_delete(client, make_hotel, admin):
    hotel = make_hotel()
    client.patch_json(f"/hotels/{hotel['id']}", {"city": "Bern"}, headers=admin)
    assert client.get("/hotels", {"city": "bern"}).json["items"][0]["id"] == hotel["id"]
    room = client.post_json(f"/hotels/{hotel['id']}/room-types", {"name": "Cheap", "capacity": 1,
                            "nightly_price": {"amount": 100, "currency": "EUR"}, "rooms": 1}, headers=admin,
                            status=201).json
    assert client.get("/hotels", {"city": "bern"}).json["items"][0]["nightly_price_from"]["amount"] == 100
    client.delete(f"/hotels/{hotel['id']}/room-types/{room['id']}", headers=admin, status=204)
    client.delete(f"/hotels/{hotel['id']}", headers=admin, status=204)
    assert client.get("/hotels", {"city": "bern"}).json["items"] == []
    assert client.get("/cities", {"prefix": "bern"}).json["items"] == []


def test_a_kept_search_answer_never_outlives_a_catalogue_change(client, make_hotel, admin, clean_db, reservations):
    # Answers without dates are kept per process; any committed change, also one
    # made outside this app (another worker, the seed, plain SQL), is seen at once.
    from sqlalchemy import create_engine, text

    from hotelbook_search.models import db

    hotel = make_hotel()
    query = {"city": "zurich", "sort": "-stars"}
    first = client.get("/hotels", query)
    assert client.get("/hotels", query).body == first.body
    assert client.get(f"/hotels/{hotel['id']}").json["stars"] == 4
    client.patch_json(f"/hotels/{hotel['id']}", {"stars": 2}, headers=admin)
    assert client.get("/hotels", query).json["items"][0]["stars"] == 2
    assert client.get(f"/hotels/{hotel['id']}").json["stars"] == 2
    with clean_db.app_context():
        url = db.engine.url
    other = create_engine(url)  # another process's connection
    try:
        with other.begin() as connection:
            connection.execute(text("UPDATE hotels SET name = 'Renamed' WHERE id = :id"), {"id": hotel["id"]})
    finally:
        other.dispose()
    assert client.get("/hotels", query).json["items"][0]["name"] == "Renamed"
    assert client.get("/hotels", {**query, "limit": 1}).json["items"][0]["name"] == "Renamed"
    assert client.get(f"/hotels/{hotel['id']}").json["name"] == "Renamed"
    # With dates, the candidates are kept (availability is asked every time).
    reservations.answer = lambda body: (200, {"room_types": [{"room_type_id": rt["room_type_id"], "free": 1}
                                                             for rt in body["room_types"]]})
    room = hotel["room_types"][0]["id"]
    assert client.get("/hotels", stay()).json["items"][0]["stay_price"]["amount"] == 24000
    client.patch_json(f"/hotels/{hotel['id']}/room-types/{room}", {"nightly_price": {"amount": 10000,
                                                                                     "currency": "EUR"}},
                      headers=admin)
    assert client.get("/hotels", stay()).json["items"][0]["stay_price"]["amount"] == 20000
    reservations.answer = lambda body: (200, {"room_types": [{"room_type_id": room, "free": 0}]})
    assert client.get("/hotels", stay()).json["items"] == []
    assert len(reservations.calls) == 3


def test_admin_input_validated(client, admin):
    bad = {"name": "", "city": "Bern", "country": "Switzerland", "stars": 9, "price": 1,
           "room_types": [{"name": "x", "capacity": 0, "nightly_price": {"amount": 1.5, "currency": "eur"},
                           "rooms": 1}]}
    names = {p["name"] for p in client.post_json("/hotels", bad, headers=admin, status=400).json["invalid_params"]}
    assert {"name", "country", "stars", "price"} <= names
    assert any(n.startswith("room_types") for n in names)


def test_seed_is_deterministic_and_idempotent(clean_db):
    from hotelbook_search.cli import seed
    from hotelbook_search.models import City, Hotel, RoomType, db

    with clean_db.app_context():
        out = io.StringIO()
        assert seed(300, out=out) == 300
        # Not a terminal: one line per 10% with the count, the rate and the time left.
        assert "300/300 100%" in out.getvalue() and "/s ETA" in out.getvalue()
        first = sorted(db.session.scalars(db.select(Hotel.id)))
        rooms = db.session.scalar(db.select(db.func.count()).select_from(RoomType))
        assert seed(300, out=io.StringIO()) == 0
        assert sorted(db.session.scalars(db.select(Hotel.id))) == first
        assert len(first) == 300
        assert sum(db.session.scalars(db.select(City.hotels))) == 300
        # A larger N only adds the missing hotels, each with its own room types.
        assert seed(400, out=io.StringIO()) == 100
        assert db.session.scalar(db.select(db.func.count()).select_from(Hotel)) == 400
        assert db.session.scalar(db.select(db.func.count()).select_from(RoomType)) > rooms
        assert db.session.scalar(db.select(db.func.min(Hotel.min_price))) > 0
        # The indexes dropped for the bulk load are all back.
        for table in (Hotel.__table__, RoomType.__table__):
            built = {ix["name"] for ix in inspect(db.engine).get_indexes(table.name)}
            assert {ix.name for ix in table.indexes} <= built


def test_seeded_catalogue_is_searchable(client, clean_db):
    from hotelbook_search.cli import NAMESPACE, seed, uuid5_text
    from hotelbook_search.models import City, db

    assert uuid5_text("42:hotel:7") == str(uuid.uuid5(NAMESPACE, "42:hotel:7"))
    with clean_db.app_context():
        seed(200, out=io.StringIO())
        city = db.session.scalars(db.select(City.name).order_by(City.hotels.desc())).first()
    body = client.get("/hotels", {"city": city, "limit": 5, "sort": "-stars"}).json
    assert len(body["items"]) == 5 and body["next_token"]
    stars = [item["stars"] for item in body["items"]]
    assert stars == sorted(stars, reverse=True)
    hotel = client.get(f"/hotels/{body['items'][0]['id']}").json
    assert hotel["amenities"] and hotel["room_types"]
    assert min(rt["nightly_price"]["amount"] for rt in hotel["room_types"]) == \
        body["items"][0]["nightly_price_from"]["amount"]


def test_search_pages_have_exactly_the_documented_shape(client, make_hotel, reservations):
    # Search pages are written without a marshmallow dump: the HotelPage schema
    # (which documents them in /openapi.json) must give the same JSON.
    from hotelbook_search.schemas import HotelPage

    make_hotel(rooms=(("Double", 2, 12000, 5), ("Family", 4, 20000, 1)))
    make_hotel(name="Second")
    def everything_free(body):
        return 200, {"room_types": [{"room_type_id": rt["room_type_id"], "free": rt["rooms"]}
                                    for rt in body["room_types"]]}

    reservations.answer = everything_free
    for params in ({"city": "zurich", "limit": 1}, stay(guests=2), stay(limit=1, sort="-price")):
        body = client.get("/hotels", params).json
        assert body["items"]
        assert body == HotelPage().dump(body)
    documented = client.get("/openapi.json").json["components"]["schemas"]["HotelSummary"]["properties"]
    assert set(documented) == set(body["items"][0])


def test_hotel_page_has_exactly_the_documented_shape(client, make_hotel, reservations):
    from hotelbook_search.schemas import HotelOut

    hotel = make_hotel(rooms=(("Double", 2, 12000, 5), ("Family", 4, 20000, 1)), amenities=["wifi"])
    reservations.answer = lambda body: (200, {"room_types": [{"room_type_id": rt["id"], "free": 1}
                                                             for rt in hotel["room_types"]]})
    for params in ({}, {"checkin": CHECKIN, "checkout": CHECKOUT}):
        body = client.get(f"/hotels/{hotel['id']}", params).json
        assert body == HotelOut().dump(body)
        assert body["room_types"] and body["amenities"] == ["wifi"]
    assert body["room_types"][0]["free"] == 1 and body["room_types"][0]["available"] is True


def test_seed_progress_redraws_in_place_on_a_terminal():
    from hotelbook_search.cli import Progress

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    out = Terminal()
    progress = Progress(1000, "seeding hotels", out)
    for _ in range(4):
        progress.advance(250)
    text = out.getvalue()
    assert text.count("\r") == 4 and text.count("\n") == 1
    assert "250/1,000  25%" in text and "1,000/1,000 100%" in text and "ETA 0:00" in text




# --- cancellation policies and time zones --------------------------------------------------------------


def test_every_offer_shows_its_cancellation_policy_and_the_hotel_its_time_zone(client, make_hotel, admin,
                                                                              reservations):
    hotel = make_hotel(rooms=(("Double", 2, 12000, 5),))
    saver = client.post_json(f"/hotels/{hotel['id']}/room-types", {
        "name": "Double, saver rate", "capacity": 2, "nightly_price": {"amount": 9000, "currency": "EUR"},
        "rooms": 3, "cancellation_policy": {"kind": "non_refundable"}}, headers=admin, status=201).json
    assert hotel["timezone"] == "Europe/Zurich"  # from the city, when not given
    flexible = hotel["room_types"][0]["cancellation_policy"]
    assert flexible["kind"] == "flexible" and flexible["free_cancellation_hours"] == 48
    assert flexible["nights_kept"] == 1 and "48 hours before check-in" in flexible["description"]
    assert saver["cancellation_policy"]["kind"] == "non_refundable"
    assert "Non-refundable" in saver["cancellation_policy"]["description"]

    page = client.get(f"/hotels/{hotel['id']}").json
    assert page["timezone"] == "Europe/Zurich"
    assert hotel["vat_percent"] == page["vat_percent"] == "3.8"  # the catalogue's rate for CH
    assert {rt["name"]: rt["cancellation_policy"]["kind"] for rt in page["room_types"]} == {
        "Double": "flexible", "Double, saver rate": "non_refundable"}

    def availability(body):
        return 200, {"room_types": [{"room_type_id": rt["room_type_id"], "free": rt["rooms"]}
                                    for rt in body["room_types"]]}

    reservations.answer = availability
    item = client.get("/hotels", stay(guests=2)).json["items"][0]
    # The result shows the policy of the offer it prices: the cheaper, non-refundable rate.
    assert item["stay_price"] == {"amount": 18000, "currency": "EUR"}
    assert item["cancellation_policy"]["kind"] == "non_refundable"

    client.patch_json(f"/hotels/{hotel['id']}/room-types/{saver['id']}",
                      {"cancellation_policy": {"kind": "flexible", "free_cancellation_hours": 24}}, headers=admin)
    item = client.get("/hotels", stay(guests=2)).json["items"][0]
    assert (item["cancellation_policy"]["kind"], item["cancellation_policy"]["free_cancellation_hours"]) == (
        "flexible", 24)


def test_time_zone_and_policy_are_validated(client, make_hotel, admin):
    problem = client.post_json("/hotels", {"name": "X", "city": "Bern", "country": "CH", "stars": 3,
                                           "timezone": "Mars/Olympus"}, headers=admin, status=400).json
    assert "timezone" in {p["name"] for p in problem["invalid_params"]}
    hotel = make_hotel(city="Tokyo", timezone="Asia/Tokyo")
    assert hotel["timezone"] == "Asia/Tokyo"
    client.patch_json(f"/hotels/{hotel['id']}", {"timezone": "../../etc/passwd"}, headers=admin, status=400)
    assert client.patch_json(f"/hotels/{hotel['id']}", {"timezone": "Europe/Zurich"},
                             headers=admin).json["timezone"] == "Europe/Zurich"
    bad = client.post_json(f"/hotels/{hotel['id']}/room-types", {
        "name": "Odd", "capacity": 2, "nightly_price": {"amount": 9000, "currency": "EUR"}, "rooms": 1,
        "cancellation_policy": {"kind": "free-forever", "free_cancellation_hours": -1}}, headers=admin,
        status=400).json
    assert {"cancellation_policy.kind", "cancellation_policy.free_cancellation_hours"} <= {
        p["name"] for p in bad["invalid_params"]}


def test_a_room_type_patch_sends_a_price_or_a_policy_whole(client, make_hotel, admin):
    hotel = make_hotel(city="Bern")
    room = hotel["room_types"][0]
    url = f"/hotels/{hotel['id']}/room-types/{room['id']}"
    problem = client.patch_json(url, {"capacity": 3, "nightly_price": {"currency": "EUR"},
                                      "cancellation_policy": {"nights_kept": 23}}, headers=admin, status=400).json
    named = {p["name"] for p in problem["invalid_params"]}
    assert any("amount" in name for name in named) and any("kind" in name for name in named)
    after = client.get(f"/hotels/{hotel['id']}").json["room_types"][0]
    assert after["capacity"] == room["capacity"] and after["nightly_price"] == room["nightly_price"]
    client.patch_json(url, {"capacity": 1}, headers=admin)  # top-level fields stay optional
