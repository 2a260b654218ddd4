"""What the server-side session costs a page: the same page rendered anonymously and for a
logged-in guest (session row read by hashed id + data decrypted), in one run.

    python bench/booking_ui_sessions.py --requests 400

Prints requests per second of each and their ratio; no network, peers are not called.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from hotelbook_chassis.migrations import upgrade
from hotelbook_ui import create_app


def timed(client, path: str, count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        response = client.get(path)
        assert response.status_code == 200
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        app = create_app({
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{Path(folder) / 'ui.db'}",
            "SECRET_KEY": "bench-only-secret",
            "JSON_LOGS": False, "LOG_LEVEL": "WARNING",
        })
        upgrade(app)
        anonymous = app.test_client()
        guest = app.test_client()
        with guest.session_transaction() as session:  # a stored session, as after a log-in
            session["tokens"] = {"access_token": "a" * 700, "refresh_token": "r" * 43,
                                 "expires_at": time.time() + 3600, "user_id": "u1", "name": "Bench Guest",
                                 "email": "bench@example.test", "email_verified": True}
        for client in (anonymous, guest):  # warm up
            timed(client, "/", 20)
        rounds = []
        for _ in range(3):  # interleaved: the machine is shared and noisy
            rounds.append((timed(anonymous, "/", args.requests), timed(guest, "/", args.requests)))
        anon = max(r[0] for r in rounds)
        logged = max(r[1] for r in rounds)
        print(f"home page, anonymous (no session):      {anon:8.0f} req/s")
        print(f"home page, logged-in (session from db): {logged:8.0f} req/s")
        print(f"ratio logged-in / anonymous:            {logged / anon:8.2f}")


if __name__ == "__main__":
    main()
