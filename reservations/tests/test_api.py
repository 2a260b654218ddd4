from datetime import datetime, timedelta

import pytest
import requests
import responses
from sqlalchemy import select

from hotelbook_chassis.testing import bearer
from hotelbook_reservations.models import NightCount, Reservation, db
from tests.conftest import HOTEL_ID, PAYMENTS, PDF, ROOM_ID, SEARCH, USERS, hotel, stay


@pytest.fixture
def search_has(request):
    """Fake search's GET /hotels/{id} (responses), with the given rooms."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        def answer(rooms=2, **kwargs):
            mock.replace(responses.GET, f"{SEARCH}/hotels/{HOTEL_ID}", json=hotel(rooms, **kwargs)) \
                if any(c.url == f"{SEARCH}/hotels/{HOTEL_ID}" for c in mock.registered()) \
                else mock.add(responses.GET, f"{SEARCH}/hotels/{HOTEL_ID}", json=hotel(rooms, **kwargs))
            return mock

        yield answer


def hold(client, headers, offset=30, length=2, guests=2, status=201, **extra):
    checkin, checkout = stay(offset, length)
    body = {"hotel_id": HOTEL_ID, "room_type_id": ROOM_ID, "checkin": checkin, "checkout": checkout,
            "guests": guests, **extra}
    return client.post_json("/reservations", body, headers=headers, status=status)


def nights(app):
    with app.app_context():
        return {n.night.isoformat(): n.booked for n in db.session.scalars(select(NightCount))}


def test_hold_prices_from_search(client, guest, search_has):
    search_has(rooms=2, price=12000)
    body = hold(client, guest()).json
    assert body["status"] == "held"
    assert body["total"] == {"amount": 24000, "currency": "EUR"}
    expires = datetime.fromisoformat(body["hold_expires_at"].rstrip("Z"))
    assert timedelta(minutes=14) < expires - datetime.utcnow() <= timedelta(minutes=15)


def test_client_cannot_send_the_price(client, guest, search_has):
    search_has()
    problem = hold(client, guest(), status=400, total={"amount": 1, "currency": "EUR"}).json
    assert "total" in {p["name"] for p in problem["invalid_params"]}


def test_last_room_then_409(client, clean_db, guest, search_has):
    search_has(rooms=1)
    hold(client, guest("a"))
    problem = hold(client, guest("b"), status=409)
    assert problem.content_type == "application/problem+json"
    assert set(nights(clean_db).values()) == {1}


@pytest.mark.parametrize("body, field", [
    ({"guests": 3}, "guests"), ({"room_type_id": "nope"}, "room_type_id"), ({"checkin": "2020-01-01"}, "checkin"),
    ({"guests": 0}, "guests"), ({"checkout": "bad"}, "checkout"),
])
def test_bad_holds_name_the_field(client, guest, search_has, body, field):
    search_has()
    checkin, checkout = stay()
    full = {"hotel_id": HOTEL_ID, "room_type_id": ROOM_ID, "checkin": checkin, "checkout": checkout, "guests": 2,
            **body}
    problem = client.post_json("/reservations", full, headers=guest(), status=400).json
    assert field in {p["name"] for p in problem["invalid_params"]}


def test_unknown_hotel_404_and_search_down_503(client, guest):
    with responses.RequestsMock() as mock:
        mock.add(responses.GET, f"{SEARCH}/hotels/{HOTEL_ID}", status=404)
        hold(client, guest(), status=404)
    with responses.RequestsMock() as mock:
        mock.add(responses.GET, f"{SEARCH}/hotels/{HOTEL_ID}", body=requests.ConnectionError())
        assert hold(client, guest(), status=503).json["type"].endswith("peer-unavailable")


def test_owner_only(client, guest, search_has, token_factory):
    search_has()
    mine = hold(client, guest("a")).json
    client.get(f"/reservations/{mine['id']}", headers=guest("a"))
    client.get(f"/reservations/{mine['id']}", headers=guest("b"), status=404)
    client.post(f"/reservations/{mine['id']}/cancel", headers=guest("b"), status=404)
    client.get(f"/reservations/{mine['id']}", headers=bearer(token_factory("reservations:read", sub="payments")))
    assert client.get("/reservations", headers=guest("b")).json["items"] == []


def test_confirm_is_idempotent_and_needs_scope(client, guest, payments_token, search_has):
    search_has()
    held = hold(client, guest()).json
    client.post_json(f"/reservations/{held['id']}/confirm", {"payment_id": "p1"}, headers=guest(), status=403)
    first = client.post_json(f"/reservations/{held['id']}/confirm", {"payment_id": "p1"}, headers=payments_token)
    again = client.post_json(f"/reservations/{held['id']}/confirm", {"payment_id": "p1"}, headers=payments_token)
    assert first.json["status"] == again.json["status"] == "confirmed"
    assert held["receipt_number"] is None  # no receipt before it is paid
    assert first.json["receipt_number"] == client.get(f"/reservations/{held['id']}", headers=guest()).json[
        "receipt_number"] == "HB-" + held["id"].replace("-", "").upper()[:8] + "-" + held["id"].replace(
        "-", "").upper()[8:16]
    other = client.post_json(f"/reservations/{held['id']}/confirm", {"payment_id": "p2"}, headers=payments_token,
                             status=409)
    assert other.json["status_now"] == "confirmed"


def expire_now(app, reservation_id):
    with app.app_context():
        db.session.get(Reservation, reservation_id).hold_expires_at = datetime.utcnow() - timedelta(seconds=1)
        db.session.commit()


def test_expired_hold_cannot_be_confirmed_and_gives_nights_back(client, clean_db, guest, payments_token,
                                                                search_has):
    search_has(rooms=1)
    held = hold(client, guest("a")).json
    expire_now(clean_db, held["id"])
    problem = client.post_json(f"/reservations/{held['id']}/confirm", {"payment_id": "p1"},
                               headers=payments_token, status=409).json
    assert problem["status_now"] == "expired"
    assert set(nights(clean_db).values()) == {0}
    hold(client, guest("b"))  # the room is free again


def test_lazy_expiry_on_read_and_sweeper(client, clean_db, guest, search_has):
    search_has(rooms=3)
    first = hold(client, guest("a"), offset=40).json
    second = hold(client, guest("b"), offset=40).json
    expire_now(clean_db, first["id"])
    expire_now(clean_db, second["id"])
    assert client.get(f"/reservations/{first['id']}", headers=guest("a")).json["status"] == "expired"
    result = clean_db.test_cli_runner().invoke(args=["sweep"])
    assert "expired 1 holds" in result.output
    assert set(nights(clean_db).values()) == {0}
    # Releasing happens once: sweeping again changes nothing.
    clean_db.test_cli_runner().invoke(args=["sweep"])
    assert set(nights(clean_db).values()) == {0}


def test_state_machine_over_http(client, clean_db, guest, payments_token, search_has):
    search_has()
    held = hold(client, guest()).json
    client.post(f"/reservations/{held['id']}/cancel", headers=guest())
    problem = client.post(f"/reservations/{held['id']}/cancel", headers=guest(), status=409).json
    assert problem["status_now"] == "cancelled"
    client.post_json(f"/reservations/{held['id']}/confirm", {"payment_id": "p"}, headers=payments_token,
                     status=409)
    assert set(nights(clean_db).values()) == {0}


def test_cancel_confirmed_refunds_first(client, clean_db, guest, payments_token, search_has):
    search_has()
    held = hold(client, guest()).json
    client.post_json(f"/reservations/{held['id']}/confirm", {"payment_id": "pay-1"}, headers=payments_token)
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, f"{PAYMENTS}/payments/pay-1/refund", body=requests.ConnectionError())
        client.post(f"/reservations/{held['id']}/cancel", headers=guest(), status=503)
    assert client.get(f"/reservations/{held['id']}", headers=guest()).json["status"] == "confirmed"
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, f"{PAYMENTS}/payments/pay-1/refund", json={"id": "pay-1", "status": "refunded"})
        assert client.post(f"/reservations/{held['id']}/cancel", headers=guest()).json["status"] == "cancelled"
    assert set(nights(clean_db).values()) == {0}


def test_list_pages(client, guest, search_has):
    search_has(rooms=10)
    ids = {hold(client, guest(), offset=30 + i).json["id"] for i in range(5)}
    seen, token = [], None
    while True:
        body = client.get("/reservations", {"limit": 2, **({"next_token": token} if token else {})},
                          headers=guest()).json
        seen += [r["id"] for r in body["items"]]
        token = body["next_token"]
        if not token:
            break
    assert len(seen) == 5 and set(seen) == ids
    client.get("/reservations", {"next_token": "forged"}, headers=guest(), status=400)


def test_availability_batched(client, guest, search_has, token_factory):
    search_has(rooms=2)
    hold(client, guest(), offset=30, length=2)
    checkin, checkout = stay(30, 3)
    body = {"checkin": checkin, "checkout": checkout,
            "room_types": [{"room_type_id": ROOM_ID, "rooms": 2}, {"room_type_id": "other", "rooms": 4}]}
    headers = bearer(token_factory("reservations:availability", sub="search"))
    answer = client.post_json("/availability", body, headers=headers).json
    assert {r["room_type_id"]: r["free"] for r in answer["room_types"]} == {ROOM_ID: 1, "other": 4}
    client.post_json("/availability", body, headers=guest(), status=403)
    too_many = {**body, "room_types": [{"room_type_id": f"r{i}", "rooms": 1} for i in range(501)]}
    client.post_json("/availability", too_many, headers=headers, status=400)


def test_receipt_rendered_once_and_kept(client, guest, payments_token, search_has):
    search_has()
    held = hold(client, guest("u1")).json
    client.get(f"/reservations/{held['id']}/receipt.pdf", headers=guest("u1"), status=409)
    client.post_json(f"/reservations/{held['id']}/confirm", {"payment_id": "pay-9"}, headers=payments_token)
    with responses.RequestsMock() as mock:
        mock.add(responses.GET, f"{USERS}/users/u1", json={"id": "u1", "name": "山田太郎", "email": "y@example.test"})
        render = mock.add(responses.POST, f"{PDF}/render", body=b"%PDF-1.7 fake", content_type="application/pdf")
        first = client.get(f"/reservations/{held['id']}/receipt.pdf", headers=guest("u1"))
        second = client.get(f"/reservations/{held['id']}/receipt.pdf", headers=guest("u1"))
        assert render.call_count == 1
    assert first.body == second.body == b"%PDF-1.7 fake"
    assert first.content_type == "application/pdf"
    sent = __import__("json").loads(render.calls[0].request.body)
    assert sent["template"] == "receipt"
    assert sent["data"]["guest"]["name"] == "山田太郎"
    assert sent["data"]["total"] == {"amount": 24000, "currency": "EUR"}
    # 24000 * 3.8 / 103.8 = 878.61 -> 879, the hotel's Swiss rate kept from the hold
    assert sent["data"]["tax"] == {"name": "VAT", "rate_percent": "3.8", "amount": {"amount": 879, "currency": "EUR"}}
    assert sent["data"]["receipt_number"] == "HB-" + held["id"].replace("-", "").upper()[:8] + "-" + \
        held["id"].replace("-", "").upper()[8:16]
    client.get(f"/reservations/{held['id']}/receipt.pdf", headers=guest("u2"), status=404)
    client.get(f"/reservations/{held['id']}/receipt.pdf", headers={**guest("u1"), "If-None-Match": first.etag},
               status=304)


def test_receipt_when_pdf_service_down_is_503(client, guest, payments_token, search_has):
    search_has()
    held = hold(client, guest("u1")).json
    client.post_json(f"/reservations/{held['id']}/confirm", {"payment_id": "pay-9"}, headers=payments_token)
    with responses.RequestsMock() as mock:
        mock.add(responses.GET, f"{USERS}/users/u1", json={"id": "u1", "name": "Zoë", "email": "z@example.test"})
        mock.add(responses.POST, f"{PDF}/render", body=requests.ConnectionError())
        client.get(f"/reservations/{held['id']}/receipt.pdf", headers=guest("u1"), status=503)


# --- no hoarding: a cap on a guest's unpaid holds ------------------------------------------------------


def test_a_guest_cannot_hoard_rooms(client, app, guest, search_has):
    search_has(rooms=50)
    limit = app.config["MAX_ACTIVE_HOLDS"]
    assert 1 <= limit <= 10
    held = [hold(client, guest(), offset=30 + i).json for i in range(limit)]
    problem = hold(client, guest(), offset=60, status=409)
    assert problem.content_type == "application/problem+json"
    assert problem.json["type"].endswith(":too-many-holds") and problem.json["limit"] == limit
    assert 0 < int(problem.headers["Retry-After"]) <= 15 * 60 + 1
    hold(client, guest("someone-else"), offset=60)  # the cap is per guest
    client.post(f"/reservations/{held[0]['id']}/cancel", headers=guest())
    hold(client, guest(), offset=61)  # a cancelled hold no longer counts
    with app.app_context():  # nor does an expired one
        db.session.execute(Reservation.__table__.update().where(Reservation.id == held[1]["id"])
                           .values(hold_expires_at=datetime(2000, 1, 1)))
        db.session.commit()
    hold(client, guest(), offset=62)


def test_the_hold_cap_holds_under_concurrent_requests(client, app, guest, search_has):
    from concurrent.futures import ThreadPoolExecutor

    search_has(rooms=50)
    limit, headers = app.config["MAX_ACTIVE_HOLDS"], guest()
    checkin, checkout = stay(40, 1)
    body = {"hotel_id": HOTEL_ID, "room_type_id": ROOM_ID, "checkin": checkin, "checkout": checkout, "guests": 1}

    def once(_):
        with app.test_client() as c:
            return c.post("/reservations", json=body, headers=headers).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(once, range(limit + 6)))
    assert codes.count(201) == limit, codes
    assert set(codes) <= {201, 409, 503}


def test_ids_that_are_not_uuids_never_reach_a_query_or_a_peer(client, guest, search_has):
    mock = search_has()
    for bad in ("../x", "../../admin", HOTEL_ID + "/../x"):
        problem = client.post_json("/reservations", {"hotel_id": bad, "room_type_id": ROOM_ID,
                                                     "checkin": stay()[0], "checkout": stay()[1], "guests": 1},
                                   headers=guest(), status=400).json
        assert "hotel_id" in {p["name"] for p in problem["invalid_params"]}
    assert len(mock.calls) == 0
    for path in ("/reservations/..%2Fx", "/reservations/x" * 3, "/reservations/not-a-uuid/receipt.pdf"):
        client.get(path, headers=guest(), status=404)
    client.post("/reservations/not-a-uuid/cancel", headers=guest(), status=404)


# --- cancellation policy: kept at hold time, refunds exactly what it gives back --------------------------


def confirmed(client, headers, payments_token, offset=30, length=2, payment_id="pay-c"):
    held = hold(client, headers, offset=offset, length=length).json
    client.post_json(f"/reservations/{held['id']}/confirm", {"payment_id": payment_id}, headers=payments_token)
    return held


def refund_answer(amount):
    def answer(request):
        import json

        asked = json.loads(request.body)["amount"]
        assert asked["currency"] == "EUR"
        return 200, {}, json.dumps({"id": "pay-c", "status": "refunded", "refunded": asked})
    return answer


def test_the_policy_is_kept_at_hold_time_and_shown(client, guest, search_has):
    search_has()
    held = hold(client, guest(), offset=30).json
    policy = held["cancellation_policy"]
    assert policy["kind"] == "flexible" and policy["timezone"] == "Europe/Zurich"
    assert "48 hours" in policy["description"]
    checkin = datetime.fromisoformat(policy["stay_starts_at"])
    assert (checkin.hour, checkin.minute) == (15, 0) and checkin.utcoffset() is not None
    assert datetime.fromisoformat(policy["free_until"]) == checkin - timedelta(hours=48)
    assert held["refunded"] is None and held["cancellation_fee"] is None


def test_cancel_early_refunds_everything(client, guest, payments_token, search_has):
    search_has(price=12000)
    held = confirmed(client, guest(), payments_token, offset=30)
    with responses.RequestsMock() as mock:
        refund = mock.add_callback(responses.POST, f"{PAYMENTS}/payments/pay-c/refund", callback=refund_answer(0))
        body = client.post(f"/reservations/{held['id']}/cancel", headers=guest()).json
    assert __import__("json").loads(refund.calls[0].request.body)["amount"] == {"amount": 24000, "currency": "EUR"}
    assert body["status"] == "cancelled"
    assert body["refunded"] == {"amount": 24000, "currency": "EUR"}
    assert body["cancellation_fee"] == {"amount": 0, "currency": "EUR"}


def test_cancel_inside_the_deadline_keeps_the_first_night(client, guest, payments_token, search_has,
                                                           monkeypatch):
    from hotelbook_reservations import actions

    search_has(price=12000)
    held = confirmed(client, guest(), payments_token, offset=3, length=2)
    starts = datetime.fromisoformat(held["cancellation_policy"]["stay_starts_at"])
    one_day_before = (starts - timedelta(hours=24)).astimezone(__import__("datetime").UTC).replace(tzinfo=None)
    monkeypatch.setattr(actions, "utcnow", lambda: one_day_before)
    with responses.RequestsMock() as mock:
        refund = mock.add_callback(responses.POST, f"{PAYMENTS}/payments/pay-c/refund", callback=refund_answer(0))
        body = client.post(f"/reservations/{held['id']}/cancel", headers=guest()).json
    assert __import__("json").loads(refund.calls[0].request.body)["amount"]["amount"] == 12000
    assert (body["refunded"]["amount"], body["cancellation_fee"]["amount"]) == (12000, 12000)


def test_no_cancellation_once_the_stay_has_started(client, app, guest, payments_token, search_has, monkeypatch):
    from hotelbook_reservations import actions

    search_has(price=12000)
    held = confirmed(client, guest(), payments_token, offset=3, length=2)
    for later in (timedelta(hours=1), timedelta(days=2), timedelta(days=30)):  # during the stay, after check-out
        starts = datetime.fromisoformat(held["cancellation_policy"]["stay_starts_at"])
        now = (starts + later).astimezone(__import__("datetime").UTC).replace(tzinfo=None)
        monkeypatch.setattr(actions, "utcnow", lambda now=now: now)
        with responses.RequestsMock() as mock:  # any call to payments would fail this test
            problem = client.post(f"/reservations/{held['id']}/cancel", headers=guest(), status=409)
            assert len(mock.calls) == 0
        assert problem.content_type == "application/problem+json"
        assert problem.json["type"].endswith(":stay-started") and "started" in problem.json["detail"]
    monkeypatch.undo()
    assert client.get(f"/reservations/{held['id']}", headers=guest()).json["status"] == "confirmed"


def test_non_refundable_cancels_without_a_refund(client, guest, payments_token, search_has):
    from tests.conftest import NON_REFUNDABLE

    search_has(price=12000, policy=NON_REFUNDABLE)
    held = confirmed(client, guest(), payments_token, offset=30)
    assert held["cancellation_policy"]["kind"] == "non_refundable" and held["cancellation_policy"]["free_until"] is None
    with responses.RequestsMock() as mock:
        body = client.post(f"/reservations/{held['id']}/cancel", headers=guest()).json
        assert len(mock.calls) == 0
    assert (body["refunded"]["amount"], body["cancellation_fee"]["amount"]) == (0, 24000)


def test_refunded_is_what_payments_really_refunded(client, guest, payments_token, search_has):
    """A retried cancel after a crash: payments answers with the first refund, and that is what is kept."""
    search_has(price=12000)
    held = confirmed(client, guest(), payments_token, offset=30)
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, f"{PAYMENTS}/payments/pay-c/refund",
                 json={"id": "pay-c", "status": "refunded", "refunded": {"amount": 12000, "currency": "EUR"}})
        body = client.post(f"/reservations/{held['id']}/cancel", headers=guest()).json
    assert (body["refunded"]["amount"], body["cancellation_fee"]["amount"]) == (12000, 12000)


# --- after a cancellation: a cancellation note, never the receipt --------------------------------------


def test_a_cancelled_reservation_serves_a_cancellation_note_not_the_receipt(client, guest, payments_token,
                                                                            search_has, monkeypatch):
    import json

    from hotelbook_reservations import actions

    search_has(price=12000)
    held = confirmed(client, guest("u1"), payments_token, offset=3, length=2)
    with responses.RequestsMock() as mock:
        mock.add(responses.GET, f"{USERS}/users/u1", json={"id": "u1", "name": "Zoë", "email": "z@example.test"})
        render = mock.add(responses.POST, f"{PDF}/render", body=b"%PDF-1.7 receipt", content_type="application/pdf")
        receipt = client.get(f"/reservations/{held['id']}/receipt.pdf", headers=guest("u1"))
    assert json.loads(render.calls[0].request.body)["template"] == "receipt"
    assert "48 hours" in json.loads(render.calls[0].request.body)["data"]["cancellation_policy"]

    starts = datetime.fromisoformat(held["cancellation_policy"]["stay_starts_at"])
    monkeypatch.setattr(actions, "utcnow", lambda: (starts - timedelta(hours=10)).astimezone(
        __import__("datetime").UTC).replace(tzinfo=None))
    with responses.RequestsMock() as mock:
        mock.add_callback(responses.POST, f"{PAYMENTS}/payments/pay-c/refund", callback=refund_answer(0))
        client.post(f"/reservations/{held['id']}/cancel", headers=guest("u1"))
    monkeypatch.undo()

    with responses.RequestsMock() as mock:
        mock.add(responses.GET, f"{USERS}/users/u1", json={"id": "u1", "name": "Zoë", "email": "z@example.test"})
        render = mock.add(responses.POST, f"{PDF}/render", body=b"%PDF-1.7 note", content_type="application/pdf")
        note = client.get(f"/reservations/{held['id']}/receipt.pdf", headers=guest("u1"))
        again = client.get(f"/reservations/{held['id']}/receipt.pdf", headers=guest("u1"))
        assert render.call_count == 1
    assert note.body == again.body == b"%PDF-1.7 note" and note.body != receipt.body
    assert "cancellation" in note.headers["Content-Disposition"]
    sent = json.loads(render.calls[0].request.body)
    assert sent["template"] == "cancellation"
    assert (sent["data"]["paid"]["amount"], sent["data"]["refunded"]["amount"], sent["data"]["kept"]["amount"]) == (
        24000, 12000, 12000)
    # The tax is in what was kept: 12000 * 3.8 / 103.8 = 439.31 -> 439; the same receipt number.
    assert sent["data"]["tax"]["amount"] == {"amount": 439, "currency": "EUR"}
    assert sent["data"]["receipt_number"].startswith("HB-")
    # The old receipt's validator no longer matches: a cached "Total paid" is never confirmed as current.
    client.get(f"/reservations/{held['id']}/receipt.pdf", headers={**guest("u1"), "If-None-Match": receipt.etag},
               status=200)


def test_a_hotel_without_a_vat_rate_on_record_gets_no_tax_line(client, guest, payments_token, search_has):
    import json

    search_has(vat_percent=None)
    held = hold(client, guest("u1")).json
    client.post_json(f"/reservations/{held['id']}/confirm", {"payment_id": "pay-v"}, headers=payments_token)
    with responses.RequestsMock() as mock:
        mock.add(responses.GET, f"{USERS}/users/u1", json={"id": "u1", "name": "Zoë", "email": "z@example.test"})
        render = mock.add(responses.POST, f"{PDF}/render", body=b"%PDF-1.7 fake", content_type="application/pdf")
        client.get(f"/reservations/{held['id']}/receipt.pdf", headers=guest("u1"))
    assert json.loads(render.calls[0].request.body)["data"]["tax"] is None
