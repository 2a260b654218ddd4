import json
import re
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import responses

from hotelbook_chassis.testing import bearer
from tests.conftest import BANK, CARD, RESERVATION_ID, RESERVATIONS, USERS, reservation


@pytest.fixture
def peers(bank_app):
    """reservations and users faked; the bank is the real sandbox app, in-process."""
    bank = bank_app.test_client()

    def forward(request):
        path = request.path_url
        answer = bank.open(path, method=request.method, data=request.body,
                           headers={"Content-Type": "application/json"})
        return answer.status_code, {"Content-Type": answer.content_type}, answer.data

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_callback(responses.POST, re.compile(f"{BANK}/.*"), callback=forward)
        mock.add_callback(responses.GET, re.compile(f"{BANK}/.*"), callback=forward)
        mock.add(responses.GET, f"{RESERVATIONS}/reservations/{RESERVATION_ID}", json=reservation())
        mock.add(responses.POST, f"{RESERVATIONS}/reservations/{RESERVATION_ID}/confirm",
                 json={**reservation("confirmed")})
        mock.add(responses.GET, re.compile(f"{USERS}/users/.*"), json={"id": "guest-1", "email": "z@example.test",
                                                                       "name": "Zoë"})
        mock.bank = bank
        yield mock


def pay(client, headers, key="key-0001-abcdef", card=None, status=201, **extra):
    body = {"reservation_id": RESERVATION_ID, "card": card or CARD, **extra}
    return client.post_json("/payments", body, headers={**headers, "Idempotency-Key": key}, status=status)


def ledger(peers):
    return peers.bank.get("/ledger").json


def confirms(peers):
    return [c for c in peers.calls if c.request.url.endswith("/confirm")]


def test_happy_path_charges_reservations_total_and_confirms(client, guest, peers):
    answer = pay(client, guest()).json
    assert answer["status"] == "succeeded" and answer["confirmed"] is True
    assert answer["amount"] == {"amount": 24000, "currency": "EUR"}
    assert answer["card"] == {"brand": "visa", "last4": "4242"}
    assert ledger(peers)["charged"] >= 24000
    assert json.loads(confirms(peers)[0].request.body) == {"payment_id": answer["id"]}
    assert client.get(f"/payments/{answer['id']}", headers=guest()).json["id"] == answer["id"]
    client.get(f"/payments/{answer['id']}", headers=guest("someone-else"), status=404)


def test_same_key_same_body_same_answer_one_charge(client, guest, peers):
    before = ledger(peers)["charges"]
    first = pay(client, guest(), key="repeat-key-1").json
    second = pay(client, guest(), key="repeat-key-1").json
    assert first == second
    assert ledger(peers)["charges"] == before + 1
    pay(client, guest(), key="repeat-key-1", card={**CARD, "holder": "Someone Else"}, status=422)


def test_declined_and_insufficient_funds_are_402(client, guest, peers):
    for number, reason in (("4000000000000002", "card_declined"), ("4000000000009995", "insufficient_funds")):
        problem = pay(client, guest(), key=f"declined-{number}", card={**CARD, "number": number}, status=402)
        assert problem.content_type == "application/problem+json"
        assert problem.json["decline_reason"] == reason
    assert confirms(peers) == []


def test_bank_error_is_502_and_failed(client, guest, peers):
    problem = pay(client, guest(), key="bank-error-1", card={**CARD, "number": "4000000000000119"}, status=502)
    payment = client.get(f"/payments/{problem.json['payment_id']}", headers=guest()).json
    assert payment["status"] == "failed"


def test_bank_timeout_is_504_pending_and_never_charged_twice(client, guest, peers, app):
    """The bank charged but its answer never arrived: pending, then reconcile finds the charge by key."""

    def charged_but_lost(request):
        peers.bank.post("/charges", data=request.body, headers={"Content-Type": "application/json"})
        raise requests.ReadTimeout("the bank did not answer in time")

    peers.remove(responses.POST, re.compile(f"{BANK}/.*"))
    peers.add_callback(responses.POST, f"{BANK}/charges", callback=charged_but_lost)
    problem = pay(client, guest(), key="slow-card-1", status=504).json
    payment_id = problem["payment_id"]
    assert client.get(f"/payments/{payment_id}", headers=guest()).json["status"] == "pending"

    from datetime import timedelta
    from unittest import mock

    from hotelbook_payments.actions import reconcile

    before = ledger(peers)["charges"]
    with app.app_context(), mock.patch("hotelbook_payments.actions.claims.stale_after", return_value=timedelta(0)):
        assert reconcile()["resumed"] == 1
    payment = client.get(f"/payments/{payment_id}", headers=guest()).json
    assert payment["status"] == "succeeded" and payment["confirmed"]
    assert ledger(peers)["charges"] == before  # found by its key, not charged again
    # The guest retrying with the same key now gets the final answer.
    assert pay(client, guest(), key="slow-card-1").json["id"] == payment_id


def test_bad_input_charges_nothing(client, guest, peers):
    before = ledger(peers)["charges"]
    for card, field in (({**CARD, "number": "4242424242424241"}, "card.number"),
                        ({**CARD, "exp_year": 2020}, "card.exp_year"), ({**CARD, "cvc": "1"}, "card.cvc")):
        problem = pay(client, guest(), card=card, status=400).json
        assert field in {p["name"] for p in problem["invalid_params"]}
    problem = pay(client, guest(), status=400, amount={"amount": 1, "currency": "EUR"}).json
    assert "amount" in {p["name"] for p in problem["invalid_params"]}
    missing = client.post_json("/payments", {"reservation_id": RESERVATION_ID, "card": CARD}, headers=guest(),
                               status=400).json
    assert "Idempotency-Key" in {p["name"] for p in missing["invalid_params"]}
    assert ledger(peers)["charges"] == before


def test_someone_elses_or_unknown_reservation_is_404(client, guest, peers):
    peers.replace(responses.GET, f"{RESERVATIONS}/reservations/{RESERVATION_ID}", status=404,
                  json={"status": 404})
    pay(client, guest("intruder"), key="intruder-key-1", status=404)
    assert confirms(peers) == []


def test_not_held_is_409(client, guest, peers):
    peers.replace(responses.GET, f"{RESERVATIONS}/reservations/{RESERVATION_ID}", json=reservation("expired"))
    assert pay(client, guest(), key="expired-key-1", status=409).json["status_now"] == "expired"


def test_reservations_down_before_charge_releases_the_key(client, guest, peers):
    peers.replace(responses.GET, f"{RESERVATIONS}/reservations/{RESERVATION_ID}",
                  body=requests.ConnectionError())
    pay(client, guest(), key="retry-later-1", status=503)
    peers.replace(responses.GET, f"{RESERVATIONS}/reservations/{RESERVATION_ID}", json=reservation())
    assert pay(client, guest(), key="retry-later-1").json["status"] == "succeeded"


def test_confirm_fails_then_outbox_confirms(client, guest, peers, app):
    peers.replace(responses.POST, f"{RESERVATIONS}/reservations/{RESERVATION_ID}/confirm",
                  body=requests.ConnectionError())
    answer = pay(client, guest(), key="outbox-key-1").json
    assert answer["status"] == "succeeded" and answer["confirmed"] is False
    peers.replace(responses.POST, f"{RESERVATIONS}/reservations/{RESERVATION_ID}/confirm",
                  json=reservation("confirmed"))
    from hotelbook_payments.actions import reconcile

    with app.app_context():
        reconcile()
    assert client.get(f"/payments/{answer['id']}", headers=guest()).json["confirmed"] is True


def test_hold_expired_before_confirm_is_refunded(client, guest, peers):
    peers.replace(responses.POST, f"{RESERVATIONS}/reservations/{RESERVATION_ID}/confirm", status=409,
                  json={"status": 409, "status_now": "expired"})
    before = ledger(peers)
    problem = pay(client, guest(), key="expired-hold-1", status=409).json
    assert client.get(f"/payments/{problem['payment_id']}", headers=guest()).json["status"] == "refunded"
    after = ledger(peers)
    assert after["charged"] - before["charged"] == after["refunded"] - before["refunded"] == 24000


def test_refund_endpoint_needs_scope_and_is_idempotent(client, guest, peers, token_factory):
    answer = pay(client, guest(), key="refund-me-1").json
    client.post(f"/payments/{answer['id']}/refund", headers=guest(), status=403)
    service = bearer(token_factory("payments:refund", sub="reservations"))
    assert client.post(f"/payments/{answer['id']}/refund", headers=service).json["status"] == "refunded"
    assert client.post(f"/payments/{answer['id']}/refund", headers=service).json["status"] == "refunded"


def test_receipt_mail_sent_from_the_outbox(client, guest, peers, app, smtp_server):
    pay(client, guest(), key="mail-key-1")
    from hotelbook_payments.actions import reconcile

    with app.app_context():
        reconcile()
    message = smtp_server.wait_for("z@example.test", subject_contains="receipt")
    assert "240.00 EUR" in message.get_body().get_content()
    assert f"/reservations/{RESERVATION_ID}/receipt.pdf" in message.get_body().get_content()
    assert "4242424242424242" not in str(message)


def test_concurrent_same_key_one_charge(client, guest, peers, app):
    headers = {**guest(), "Idempotency-Key": "concurrent-key-1"}
    body = {"reservation_id": RESERVATION_ID, "card": CARD}
    before = ledger(peers)["charges"]

    def once(_):
        with app.test_client() as c:
            return c.post("/payments", json=body, headers=headers)

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(once, range(8)))
    ok = [a for a in answers if a.status_code == 201]
    assert ok and all(a.json == ok[0].json for a in ok)
    assert {a.status_code for a in answers} <= {201, 409}
    assert ledger(peers)["charges"] == before + 1


# --- unknown outcomes at the bank stay pending; reconcile converges ---------------------------------


@pytest.fixture
def real_bank(app, bank_app, peers):
    """The bank sandbox as a real HTTP server that charges at once and answers slow cards late,
    with payments' bank client pointed at it (short read timeout, as configured in production)."""
    from hotelbook_chassis.testing import PeerServer
    from hotelbook_payments.clients import init_clients

    bank = PeerServer(bank_app).start()
    url = bank.url
    peers.add_passthru(url)
    saved = {name: app.config[name] for name in ("BANK_URL", "BANK_TIMEOUT")}
    old_slow = bank_app.config["BANK_SLOW_SECONDS"]
    bank_app.config["BANK_SLOW_SECONDS"] = 2.0  # holds its answer past payments' timeout
    app.config.update(BANK_URL=url, BANK_TIMEOUT=0.5)
    init_clients(app)
    yield url
    app.config.update(saved)
    bank_app.config["BANK_SLOW_SECONDS"] = old_slow
    init_clients(app)
    bank.stop()


SLOW_CARD = {**CARD, "number": "4000000000000259"}


def test_bank_holding_its_answer_past_the_timeout_is_pending_then_reconciled(client, guest, peers, app,
                                                                             real_bank):
    before = ledger(peers)
    problem = pay(client, guest(), key="slow-real-bank-1", card=SLOW_CARD, status=504)
    assert problem.content_type == "application/problem+json"
    assert problem.json["status_now"] == "pending" and "being checked" in problem.json["detail"]
    payment_id = problem.json["payment_id"]
    # Charged at the bank, answer lost: never "failed", never a second charge.
    assert client.get(f"/payments/{payment_id}", headers=guest()).json["status"] == "pending"
    assert ledger(peers)["charges"] == before["charges"] + 1
    assert confirms(peers) == []

    from hotelbook_payments.actions import reconcile

    with app.app_context():
        assert reconcile(older_than=0)["resumed"] == 1
    payment = client.get(f"/payments/{payment_id}", headers=guest()).json
    assert (payment["status"], payment["confirmed"]) == ("succeeded", True)
    assert len(confirms(peers)) == 1
    assert ledger(peers)["charges"] == before["charges"] + 1


def test_answer_lost_and_hold_gone_meanwhile_reconcile_refunds(client, guest, peers, app, real_bank):
    before = ledger(peers)
    payment_id = pay(client, guest(), key="slow-real-bank-2", card=SLOW_CARD, status=504).json["payment_id"]
    peers.replace(responses.POST, f"{RESERVATIONS}/reservations/{RESERVATION_ID}/confirm", status=409,
                  json={"status": 409, "status_now": "expired"})
    from hotelbook_payments.actions import reconcile

    with app.app_context():
        reconcile(older_than=0)
    assert client.get(f"/payments/{payment_id}", headers=guest()).json["status"] == "refunded"
    after = ledger(peers)
    assert after["charged"] - before["charged"] == after["refunded"] - before["refunded"] == 24000


def test_connection_cut_after_sending_is_pending_not_failed(client, guest, peers):
    from urllib3.exceptions import ProtocolError

    def charged_then_cut(request):
        peers.bank.post("/charges", data=request.body, headers={"Content-Type": "application/json"})
        raise requests.ConnectionError(ProtocolError("Connection aborted.", ConnectionResetError()))

    peers.remove(responses.POST, re.compile(f"{BANK}/.*"))
    peers.add_callback(responses.POST, f"{BANK}/charges", callback=charged_then_cut)
    problem = pay(client, guest(), key="cut-after-send-1", status=504).json
    assert client.get(f"/payments/{problem['payment_id']}", headers=guest()).json["status"] == "pending"


def test_bank_never_reached_is_a_clear_failure(client, guest, peers):
    from urllib3.exceptions import MaxRetryError, NewConnectionError

    def refused(request):
        reason = NewConnectionError(None, "Connection refused")
        raise requests.ConnectionError(MaxRetryError(None, request.url, reason))

    peers.remove(responses.POST, re.compile(f"{BANK}/.*"))
    peers.add_callback(responses.POST, f"{BANK}/charges", callback=refused)
    problem = pay(client, guest(), key="bank-refused-1", status=502).json
    assert client.get(f"/payments/{problem['payment_id']}", headers=guest()).json["status"] == "failed"


# --- a key still in progress answers at once -----------------------------------------------------------


def test_same_key_while_the_first_is_in_progress_is_409_at_once(client, guest, peers, app):
    import threading

    arrived, release, released = threading.Event(), threading.Event(), []

    def held_at_the_bank(request):
        arrived.set()
        released.append(release.wait(timeout=20))  # no waiting loop in payments: released by the test
        answer = peers.bank.post("/charges", data=request.body, headers={"Content-Type": "application/json"})
        return answer.status_code, {"Content-Type": "application/json"}, answer.data

    peers.remove(responses.POST, re.compile(f"{BANK}/.*"))
    peers.add_callback(responses.POST, f"{BANK}/charges", callback=held_at_the_bank)
    headers = {**guest(), "Idempotency-Key": "in-progress-key-1"}
    body = {"reservation_id": RESERVATION_ID, "card": CARD}
    first: list = []

    def post_first() -> None:
        with app.test_client() as c:
            first.append(c.post("/payments", json=body, headers=headers))

    worker = threading.Thread(target=post_first)
    worker.start()
    assert arrived.wait(timeout=20)
    with app.test_client() as c:
        second = c.post("/payments", json=body, headers=headers)
    release.set()
    worker.join(30)
    assert second.status_code == 409, second.json
    assert second.content_type == "application/problem+json"
    assert second.headers["Retry-After"].isdigit()
    assert second.json["type"].endswith(":in-progress")
    assert released == [True]  # the duplicate was answered while the first still waited on the bank
    assert first[0].status_code == 201


# --- identifiers and identity ------------------------------------------------------------------------


def test_reservation_id_that_is_not_a_uuid_is_400_and_stores_nothing(client, guest, peers, app):
    for bad in ("../x", "../../payments/x", "7a0f7bd2-3c1e-4f57-8a3e-0c9e5b1d2a1/", "x" * 36):
        problem = pay(client, guest(), key="not-a-uuid-1", status=400, reservation_id=bad).json
        assert "reservation_id" in {p["name"] for p in problem["invalid_params"]}
    assert [c.request.url for c in peers.calls if RESERVATIONS in c.request.url] == []
    from hotelbook_payments.models import Payment, db

    with app.app_context():
        assert db.session.query(Payment).count() == 0
    client.get("/payments/..%2Fx", headers=guest(), status=404)


def test_a_crashed_attempt_replayed_later_reads_the_reservation_as_the_guest(client, guest, peers, app,
                                                                             monkeypatch):
    from datetime import timedelta

    from hotelbook_payments import clients
    from hotelbook_payments.actions import claims

    def crash(reservation_id, bearer):
        raise RuntimeError("the process died before reading the reservation")

    monkeypatch.setattr(clients, "reservation", crash)
    pay(client, guest(), key="crashed-then-replayed", status=500)
    monkeypatch.undo()
    monkeypatch.setattr(claims, "stale_after", lambda: timedelta(0))
    headers = guest()
    assert pay(client, headers, key="crashed-then-replayed").json["status"] == "succeeded"
    reads = [c for c in peers.calls if c.request.method == "GET" and "/reservations/" in c.request.url]
    assert reads and all(c.request.headers.get("Authorization") == headers["Authorization"] for c in reads)


def test_a_reservation_of_another_guest_is_404_even_if_reservations_shows_it(client, guest, peers):
    peers.replace(responses.GET, f"{RESERVATIONS}/reservations/{RESERVATION_ID}",
                  json=reservation(user_id="someone-else"))
    before = ledger(peers)["charges"]
    pay(client, guest(), key="not-mine-key-1", status=404)
    assert ledger(peers)["charges"] == before and confirms(peers) == []


# --- refunds of exactly what the cancellation policy gives back ----------------------------------------


def test_refund_of_part_of_a_payment_reaches_the_bank_exactly_once(client, guest, peers, token_factory):
    answer = pay(client, guest(), key="partial-refund-1").json
    service = bearer(token_factory("payments:refund", sub="reservations"))
    before = ledger(peers)
    client.post_json(f"/payments/{answer['id']}/refund", {"amount": {"amount": 24001, "currency": "EUR"}},
                     headers=service, status=422)
    client.post_json(f"/payments/{answer['id']}/refund", {"amount": {"amount": 100, "currency": "USD"}},
                     headers=service, status=422)
    refunded = client.post_json(f"/payments/{answer['id']}/refund", {"amount": {"amount": 12000, "currency": "EUR"}},
                                headers=service).json
    assert refunded["status"] == "refunded" and refunded["refunded"] == {"amount": 12000, "currency": "EUR"}
    # Asked again (a retried cancel), even for another amount: the first refund is the answer.
    again = client.post_json(f"/payments/{answer['id']}/refund", {"amount": {"amount": 24000, "currency": "EUR"}},
                             headers=service).json
    assert again["refunded"] == {"amount": 12000, "currency": "EUR"}
    after = ledger(peers)
    assert after["refunded"] - before["refunded"] == 12000 and after["refunds"] - before["refunds"] == 1
    assert client.get(f"/payments/{answer['id']}", headers=guest()).json["refunded"]["amount"] == 12000


def test_periodic_reconcile_leaves_a_job_another_worker_has_leased(client, guest, peers, app, smtp_server):
    from sqlalchemy import select

    from hotelbook_payments.actions import reconcile
    from hotelbook_payments.actions.outbox import claim_due
    from hotelbook_payments.models import OutboxJob, db

    pay(client, guest(), key="leased-mail-key")
    with app.app_context():
        leased = claim_due()  # a live outbox worker takes the receipt mail...
        assert [job.kind for job in leased] == ["receipt-mail"]
        assert reconcile(every_job=False)["jobs"] == 0  # ...so the periodic round does not run it too
        assert reconcile()["jobs"] == 1  # the CLI after a crash does, lease or not
        job = db.session.scalar(select(OutboxJob).where(OutboxJob.kind == "receipt-mail"))
        assert job.done_at is not None


def test_died_between_charge_and_confirm_the_outbox_confirms_and_the_key_replays(client, guest, peers, app,
                                                                                 monkeypatch):
    """The charge and its confirm job commit together: a process that dies right after the
    charge leaves a job (leased for the inline attempt), never a charge nobody confirms."""
    from sqlalchemy import select

    from hotelbook_payments import clients
    from hotelbook_payments.actions import reconcile
    from hotelbook_payments.models import OutboxJob, Payment, db

    def crash(reservation_id, payment_id):
        raise RuntimeError("the process died before confirming")

    monkeypatch.setattr(clients, "confirm", crash)
    headers = guest()
    pay(client, headers, key="died-before-confirm", status=500)
    with app.app_context():
        payment = db.session.scalar(select(Payment).where(Payment.idempotency_key == "died-before-confirm"))
        job = db.session.scalar(select(OutboxJob).where(OutboxJob.payment_id == payment.id))
        assert payment.status == "succeeded" and not payment.confirmed and payment.response_status is None
        assert job.kind == "confirm" and job.done_at is None
        payment_id = payment.id
        assert reconcile(every_job=False)["jobs"] == 0  # the inline attempt's lease still runs
    # Meanwhile the same key is in progress, not an error.
    assert pay(client, headers, key="died-before-confirm", status=409).json["type"].endswith("in-progress")
    monkeypatch.undo()
    with app.app_context():
        reconcile()  # after the crash (the CLI): the job confirms it
    again = pay(client, headers, key="died-before-confirm").json
    assert again["id"] == payment_id and again["confirmed"] is True
    assert len(confirms(peers)) == 1
