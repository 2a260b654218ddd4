"""The saga with real processes: the bank sandbox and payments under gunicorn, reservations faked.

The fake reservations (and a fake auth serving the JWKS, service tokens and users)
are real HTTP servers in threads, holding reservations in memory. After every
scenario the bank's charged minus refunded must equal the confirmed reservations' totals.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from joserfc import jwt
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from hotelbook_chassis.testing import ServiceProcess, free_port, make_token, new_database_url

ISSUER = "http://issuer.test"
CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2099, "cvc": "123", "holder": "Ada Byron"}
BANK_SLOW_SECONDS, BANK_TIMEOUT = 2.0, 0.7


def problem(status: int, **extra: Any) -> Response:
    return Response(json.dumps({"status": status, **extra}), status=status, mimetype="application/problem+json")


class FakeServer:
    """A threaded werkzeug server on a fixed port that can be stopped and started again."""

    def __init__(self, handle: Callable[[Request], Response]) -> None:
        self.handle = handle
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server: Any = None

    def start(self) -> FakeServer:
        self.server = make_server("127.0.0.1", self.port, Request.application(self.handle), threaded=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class FakeReservations:
    """reservations' GET /reservations/{id} and idempotent POST .../confirm, in memory."""

    def __init__(self, signing_key: Any) -> None:
        self.key = signing_key
        self.items: dict[str, dict[str, Any]] = {}
        self.expire_on_confirm: set[str] = set()
        self.confirm_down = False
        self.lock = threading.Lock()
        self.server = FakeServer(self.handle)

    def add(self, user_id: str, amount: int) -> str:
        reservation_id = str(uuid.uuid4())
        self.items[reservation_id] = {"id": reservation_id, "user_id": user_id, "status": "held",
                                      "total": {"amount": amount, "currency": "EUR"}, "payment_id": None,
                                      "hold_expires_at": "2099-01-01T00:00:00Z", "hotel_name": "Hotel Limmat"}
        return reservation_id

    def confirmed_total(self) -> int:
        return sum(r["total"]["amount"] for r in self.items.values() if r["status"] == "confirmed")

    def handle(self, request: Request) -> Response:
        parts = request.path.strip("/").split("/")
        if parts[0] != "reservations" or len(parts) not in (2, 3) or parts[1] not in self.items:
            return problem(404)
        claims = jwt.decode(request.headers.get("Authorization", "").partition(" ")[2], self.key).claims
        with self.lock:
            found = self.items[parts[1]]
            if len(parts) == 2 and request.method == "GET":
                if "guest" in claims["scope"].split() and claims["sub"] != found["user_id"]:
                    return problem(404)
                return Response(json.dumps(found), mimetype="application/json")
            if "reservations:confirm" not in claims["scope"].split():
                return problem(403)
            if self.confirm_down:
                return problem(503)
            if parts[1] in self.expire_on_confirm and found["status"] == "held":
                found["status"] = "expired"
            payment_id = request.get_json()["payment_id"]
            if found["status"] == "held":
                found.update(status="confirmed", payment_id=payment_id)
            elif not (found["status"] == "confirmed" and found["payment_id"] == payment_id):
                return problem(409, type="urn:problem:hotelbook:invalid-transition", status_now=found["status"])
            return Response(json.dumps(found), mimetype="application/json")


class FakeAuth:
    """auth's JWKS and client_credentials tokens, and users' GET /users/{id}."""

    def __init__(self, signing_key: Any, jwks: dict[str, Any]) -> None:
        self.key, self.jwks = signing_key, jwks
        self.server = FakeServer(self.handle)

    def handle(self, request: Request) -> Response:
        if request.path == "/.well-known/jwks.json":
            return Response(json.dumps(self.jwks), mimetype="application/json")
        if request.path == "/oauth/token" and request.method == "POST":
            token = make_token(self.key, scope=request.form["scope"], sub="payments", client_id="payments",
                               aud=["reservations", "users"])
            return Response(json.dumps({"access_token": token, "token_type": "Bearer", "expires_in": 300}),
                            mimetype="application/json")
        if request.path.startswith("/users/"):
            user_id = request.path.rsplit("/", 1)[1]
            return Response(json.dumps({"id": user_id, "email": f"{user_id}@example.test", "name": "Ada",
                                        "email_verified": True}), mimetype="application/json")
        return problem(404)


class Stack:
    def __init__(self, tmp: Any, signing_key: Any, jwks: dict[str, Any], smtp_port: int) -> None:
        self.key = signing_key
        self.auth = FakeAuth(signing_key, jwks).server.start()
        self.reservations = FakeReservations(signing_key)
        self.reservations.server.start()
        self.bank_db, self.drop_bank = new_database_url(tmp, "bank")
        self.payments_db, self.drop_payments = new_database_url(tmp, "payments")
        common = {"VAR_DIR": str(tmp), "JSON_LOGS": "false", "OAUTH_ISSUER": ISSUER, "AUTH_URL": self.auth.url,
                  "JWKS_URL": f"{self.auth.url}/.well-known/jwks.json"}
        self.bank_env = {**common, "DATABASE_URL": self.bank_db, "BANK_SLOW_SECONDS": str(BANK_SLOW_SECONDS)}
        self.payments_env = {
            **common, "DATABASE_URL": self.payments_db, "RESERVATIONS_URL": self.reservations.server.url,
            "USERS_URL": self.auth.url, "CLIENT_ID": "payments", "CLIENT_SECRET": "not-checked-by-the-fake",
            "BANK_TIMEOUT": str(BANK_TIMEOUT), "OUTBOX_EVERY": "0.3", "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(smtp_port), "SECRET_KEY": "payments-process-test",
        }
        self.flask("hotelbook_payments.bank", self.bank_env, "db", "upgrade")
        self.flask("hotelbook_payments", self.payments_env, "db", "upgrade")
        self.bank = ServiceProcess("hotelbook_payments.bank:create_app()", self.bank_env, name="bank").start()
        self.payments_env["BANK_URL"] = self.bank.url
        self.payments = self.start_payments()

    def start_payments(self, **env: str) -> ServiceProcess:
        return ServiceProcess("hotelbook_payments:create_app()", {**self.payments_env, **env},
                              name="payments").start()

    def flask(self, app: str, env: dict[str, str], *args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "flask", "--app", app, *args], env={**os.environ, **env},
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    def reconcile(self) -> dict[str, int]:
        out = self.flask("hotelbook_payments", {**self.payments_env, "OUTBOX_WORKER": "0"}, "reconcile",
                         "--older-than", "0")
        return json.loads(out.strip().splitlines()[-1])

    def guest(self, sub: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {make_token(self.key, scope='guest', sub=sub, aud='payments')}"}

    def pay(self, sub: str, reservation_id: str, key: str | None = None, card: dict[str, Any] | None = None,
            timeout: float = 30) -> requests.Response:
        headers = {**self.guest(sub), "Idempotency-Key": key or f"key-{uuid.uuid4()}"}
        return requests.post(f"{self.payments.url}/payments", json={"reservation_id": reservation_id,
                             "card": card or CARD}, headers=headers, timeout=timeout)

    def ledger(self) -> dict[str, int]:
        return requests.get(f"{self.bank.url}/ledger", timeout=10).json()

    def assert_consistent(self, within: float = 15) -> None:
        """Charged minus refunded at the bank equals the confirmed reservations' totals."""
        deadline = time.monotonic() + within
        while True:
            ledger = self.ledger()
            money, rooms = ledger["charged"] - ledger["refunded"], self.reservations.confirmed_total()
            if money == rooms or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert money == rooms, f"bank holds {money}, confirmed reservations total {rooms}"

    def close(self) -> None:
        for process in (self.payments, self.bank):
            process.stop()
        self.reservations.server.stop()
        self.auth.stop()
        self.drop_bank()
        self.drop_payments()


@pytest.fixture(scope="module")
def stack(tmp_path_factory, signing_key, jwks) -> Iterator[Stack]:
    from hotelbook_chassis.smtp_sink import start_sink

    smtp_port = free_port()
    controller, mail = start_sink("127.0.0.1", smtp_port)
    built = Stack(tmp_path_factory.mktemp("processes"), signing_key, jwks, smtp_port)
    built.mail = mail  # type: ignore[attr-defined]
    yield built
    built.close()
    controller.stop()


def wait_until(check: Callable[[], bool], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.2)


def test_happy_path_confirms_and_mails_a_receipt(stack):
    reservation_id = stack.reservations.add("ada", 24000)
    before = stack.ledger()
    answer = stack.pay("ada", reservation_id)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["status"] == "succeeded" and body["confirmed"] is True
    assert body["amount"] == {"amount": 24000, "currency": "EUR"} and body["card"] == {"brand": "visa",
                                                                                        "last4": "4242"}
    assert stack.reservations.items[reservation_id]["payment_id"] == body["id"]
    assert stack.ledger()["charges"] == before["charges"] + 1
    mine = requests.get(f"{stack.payments.url}/payments/{body['id']}", headers=stack.guest("ada"), timeout=10)
    assert mine.status_code == 200 and mine.json()["id"] == body["id"]
    assert requests.get(f"{stack.payments.url}/payments/{body['id']}", headers=stack.guest("eve"),
                        timeout=10).status_code == 404
    stack.mail.wait_for("ada@example.test", subject_contains="Receipt")
    stack.assert_consistent()


@pytest.mark.parametrize("number, status, reason", [
    ("4000000000000002", 402, "card_declined"),
    ("4000000000009995", 402, "insufficient_funds"),
    ("4000000000000119", 502, None),
])
def test_test_cards(stack, number, status, reason):
    reservation_id = stack.reservations.add("bob", 10000)
    answer = stack.pay("bob", reservation_id, card={**CARD, "number": number})
    assert answer.status_code == status, answer.text
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert answer.json().get("decline_reason") == reason
    assert stack.reservations.items[reservation_id]["status"] == "held"
    stack.assert_consistent()


def test_slow_bank_is_504_pending_then_reconcile_confirms_it(stack):
    reservation_id = stack.reservations.add("cy", 15000)
    key = f"key-{uuid.uuid4()}"
    slow = {**CARD, "number": "4000000000000259"}
    answer = stack.pay("cy", reservation_id, key=key, card=slow)
    assert answer.status_code == 504, answer.text
    payment_id = answer.json()["payment_id"]
    # The bank finishes the charge after its delay; payments does not know yet.
    wait_until(lambda: requests.get(f"{stack.bank.url}/charges", params={"idempotency_key": payment_id},
                                    timeout=10).status_code == 200)
    stack.reconcile()
    assert stack.reservations.items[reservation_id]["status"] == "confirmed"
    again = stack.pay("cy", reservation_id, key=key, card=slow)
    assert again.status_code == 201 and again.json()["id"] == payment_id
    stack.assert_consistent()


def test_bad_input_charges_nothing(stack):
    reservation_id = stack.reservations.add("dee", 9000)
    before = stack.ledger()["charges"]
    bad_card = stack.pay("dee", reservation_id, card={**CARD, "number": "4242424242424241"})
    assert bad_card.status_code == 400 and "card.number" in bad_card.text
    headers = {**stack.guest("dee"), "Idempotency-Key": "key-amount-field"}
    amount = requests.post(f"{stack.payments.url}/payments", headers=headers, timeout=10,
                           json={"reservation_id": reservation_id, "card": CARD, "amount": 1})
    assert amount.status_code == 400
    assert stack.pay("eve", reservation_id).status_code == 404  # someone else's
    assert stack.pay("dee", str(uuid.uuid4())).status_code == 404
    assert stack.ledger()["charges"] == before
    stack.assert_consistent()


def test_twenty_concurrent_requests_with_one_key_charge_once(stack):
    reservation_id = stack.reservations.add("fay", 30000)
    key = f"key-{uuid.uuid4()}"
    before = stack.ledger()["charges"]
    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda _: stack.pay("fay", reservation_id, key=key), range(20)))
    statuses = [a.status_code for a in answers]
    assert set(statuses) <= {201, 409} and 201 in statuses, statuses
    assert len({a.json()["id"] for a in answers if a.status_code == 201}) == 1
    assert stack.ledger()["charges"] == before + 1
    stack.assert_consistent()


def test_reservations_down_between_charge_and_confirm(stack):
    reservation_id = stack.reservations.add("gus", 20000)
    before = stack.ledger()["charges"]
    stack.reservations.confirm_down = True
    try:
        answer = stack.pay("gus", reservation_id)
    finally:
        stack.reservations.confirm_down = False
    assert answer.status_code == 201 and answer.json()["confirmed"] is False, answer.text
    # Now reservations is really stopped for a while, then comes back.
    stack.reservations.server.stop()
    time.sleep(1.0)
    assert stack.reservations.items[reservation_id]["status"] == "held"
    stack.reservations.server.start()
    wait_until(lambda: stack.reservations.items[reservation_id]["status"] == "confirmed", timeout=30)
    assert stack.ledger()["charges"] == before + 1
    stack.assert_consistent()


def test_hold_expired_before_confirm_is_refunded(stack):
    reservation_id = stack.reservations.add("hal", 18000)
    stack.reservations.expire_on_confirm.add(reservation_id)
    before = stack.ledger()
    answer = stack.pay("hal", reservation_id)
    assert answer.status_code == 409, answer.text
    payment = requests.get(f"{stack.payments.url}/payments/{answer.json()['payment_id']}",
                           headers=stack.guest("hal"), timeout=10).json()
    assert payment["status"] == "refunded"
    after = stack.ledger()
    assert after["refunded"] - before["refunded"] == 18000 and after["charges"] == before["charges"] + 1
    stack.assert_consistent()


def test_killed_right_after_the_charge_then_reconcile(stack):
    reservation_id = stack.reservations.add("ivy", 27000)
    key = f"key-{uuid.uuid4()}"
    before = stack.ledger()["charges"]
    stack.payments.stop()
    stack.payments = stack.start_payments(PAYMENTS_FAULT="exit-after-charge")
    try:
        with pytest.raises(requests.ConnectionError):
            stack.pay("ivy", reservation_id, key=key)
        stack.payments.kill_hard()  # kill -9 of every payments process
    finally:
        stack.payments = stack.start_payments()
    assert stack.ledger()["charges"] == before + 1
    assert stack.reservations.items[reservation_id]["status"] == "held"  # money and rooms disagree...
    assert stack.reconcile()["resumed"] == 1
    assert stack.reservations.items[reservation_id]["status"] == "confirmed"  # ...until reconcile
    again = stack.pay("ivy", reservation_id, key=key)
    assert again.status_code == 201 and again.json()["confirmed"] is True
    assert stack.ledger()["charges"] == before + 1
    stack.assert_consistent()
