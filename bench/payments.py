"""Payments: what a repeated Idempotency-Key costs compared with a real payment.

Prints, in one run, the median time of a replayed answer (same key, same body) and of a
new payment (claim, reservation read, bank charge, confirm, outbox rows), both in
process on SQLite with the real bank sandbox app behind ``responses`` and
reservations faked, and their ratio.

    python bench/payments.py [--rounds 7] [--repeat 10]
"""

from __future__ import annotations

import argparse
import re
import tempfile
import uuid

import responses
from _common import Tokens, interleaved

RESERVATIONS, BANK, USERS = "http://reservations.bench", "http://bank.bench", "http://users.bench"
CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2099, "cvc": "123", "holder": "Ada Byron"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()

    from hotelbook_chassis.migrations import upgrade
    from hotelbook_payments import create_app
    from hotelbook_payments.bank import create_app as create_bank

    tmp = tempfile.mkdtemp(prefix="bench-payments-")
    tokens = Tokens()
    app = create_app({**tokens.config("payments"), "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/payments.db",
                      "BANK_URL": BANK, "RESERVATIONS_URL": RESERVATIONS, "USERS_URL": USERS, "VAR_DIR": tmp})
    bank = create_bank({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bank.db", "VAR_DIR": tmp,
                        "SECRET_KEY": "bench", "LOG_LEVEL": "WARNING", "JSON_LOGS": False})
    upgrade(app)
    upgrade(bank)
    bank_client, client = bank.test_client(), app.test_client()
    guest = tokens.bearer("guest", "payments", sub="bench-user")

    def forward(request):
        answer = bank_client.open(request.path_url, method=request.method, data=request.body,
                                  headers={"Content-Type": "application/json"})
        return answer.status_code, {"Content-Type": answer.content_type}, answer.data

    def reservation(request):
        reservation_id = request.path_url.split("/")[2]
        return 200, {"Content-Type": "application/json"}, (
            f'{{"id": "{reservation_id}", "user_id": "bench-user", "status": "held", '
            '"total": {"amount": 24000, "currency": "EUR"}}')

    body = {"reservation_id": str(uuid.uuid4()), "card": CARD}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_callback(responses.POST, re.compile(f"{BANK}/.*"), callback=forward)
        mock.add_callback(responses.GET, re.compile(f"{BANK}/.*"), callback=forward)
        mock.add_callback(responses.GET, re.compile(f"{RESERVATIONS}/reservations/[^/]+$"), callback=reservation)
        mock.add(responses.POST, re.compile(f"{RESERVATIONS}/reservations/.*/confirm"), json={})

        first = client.post("/payments", json=body, headers={**guest, "Idempotency-Key": "bench-replayed"})
        assert first.status_code == 201, first.get_data(as_text=True)

        def replay() -> None:
            answer = client.post("/payments", json=body, headers={**guest, "Idempotency-Key": "bench-replayed"})
            assert answer.status_code == 201

        def fresh() -> None:
            new = {"reservation_id": str(uuid.uuid4()), "card": CARD}
            answer = client.post("/payments", json=new, headers={**guest, "Idempotency-Key": f"k-{uuid.uuid4()}"})
            assert answer.status_code == 201

        replayed, new = interleaved(replay, fresh, rounds=args.rounds, repeat=args.repeat)
        charges = bank_client.get("/ledger").get_json()["charges"]
    print(f"replayed answer (same key):  {replayed * 1000:7.2f} ms")
    print(f"new payment:                 {new * 1000:7.2f} ms")
    print(f"ratio new / replayed:        {new / replayed:7.1f}x")
    print(f"bank charges: {charges} for {1 + args.rounds * args.repeat} distinct keys "
          f"and {args.rounds * args.repeat} replays")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
