"""Load: the booking journey (search, hold, pay) through the gateway, with Locust.

Starts the whole system as real processes (as the system tests do), signs up and
logs in a pool of guests, then runs Locust headless for ``--seconds``. Prints
bookings per second, p50/p99 per step, the error count and each service's share
of the CPU time used during the run.

    python bench/load.py --users 40 --seconds 30
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import itertools  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402
from locust import FastHttpUser, events, task  # noqa: E402
from locust.env import Environment  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hotelbook_stack.running import RunningSystem  # noqa: E402
from tests.journey import GOOD_CARD, stay  # noqa: E402
from tests.reliability.conftest import logged_in_guests  # noqa: E402

GUESTS: list = []
HOTELS: list = []
BOOKINGS = {"done": 0}


class Booker(FastHttpUser):
    """One guest repeating the journey: search a city, hold a room, pay."""

    def on_start(self) -> None:
        self.guest = GUESTS[next(COUNTER) % len(GUESTS)]
        self.auth = {"Authorization": f"Bearer {self.guest.token}"}
        self.rng = random.Random(self.guest.email)

    @task
    def book(self) -> None:
        hotel = self.rng.choice(HOTELS)
        checkin, checkout = stay(self.rng.randint(20, 330), self.rng.randint(1, 3))
        with self.client.get("/api/search/hotels", params={"city": hotel["city"], "checkin": checkin,
                             "checkout": checkout, "guests": 2, "limit": 10}, name="1 search",
                             catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"search {response.status_code}")
                return
        with self.client.post("/api/reservations/reservations", json={
                "hotel_id": hotel["id"], "room_type_id": hotel["room_types"][0]["id"], "checkin": checkin,
                "checkout": checkout, "guests": 2}, headers=self.auth, name="2 hold",
                catch_response=True) as response:
            if response.status_code != 201:
                response.failure(f"hold {response.status_code}")
                return
            reservation_id = response.json()["id"]
        with self.client.post("/api/payments/payments", json={"reservation_id": reservation_id, "card": GOOD_CARD},
                              headers={**self.auth, "Idempotency-Key": uuid.uuid4().hex}, name="3 pay",
                              catch_response=True) as response:
            if response.status_code not in (200, 201):
                response.failure(f"pay {response.status_code}")
                return
        BOOKINGS["done"] += 1


COUNTER = itertools.count()


def cpu_seconds(pgid: int) -> float:
    """User + system CPU time of every process in a process group (a gunicorn master and its workers)."""
    total = 0
    tick = os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # fields[2] is the process group
            total += int(fields[11]) + int(fields[12])
    return total / tick


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--guests", type=int, default=40)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as var:
        system = RunningSystem(Path(var), hotels=50)
        system.start_all()
        try:
            HOTELS.extend(system.create_hotel(city=city, rooms=200, name=f"Load {city} {i}")
                          for i, city in enumerate(["Zürich", "Lyon", "Porto", "Gdańsk"] * 2))
            GUESTS.extend(logged_in_guests(system, args.guests))
            groups = {name: process.process.pid for name, process in system.processes.items() if process.process}
            before = {name: cpu_seconds(pid) for name, pid in groups.items()}

            env = Environment(user_classes=[Booker], events=events, host=system.gateway_url)
            runner = env.create_local_runner()
            started = time.monotonic()
            runner.start(args.users, spawn_rate=args.users)
            gevent.spawn_later(args.seconds, runner.quit)
            runner.greenlet.join()
            elapsed = time.monotonic() - started

            used = {name: cpu_seconds(pid) - before[name] for name, pid in groups.items()}
        finally:
            system.close()

    total_cpu = sum(used.values()) or 1
    print(f"\nbookings: {BOOKINGS['done']} in {elapsed:.1f}s = {BOOKINGS['done'] / elapsed:.1f} bookings/s "
          f"({args.users} concurrent users)")
    print(f"{'step':<10}{'requests':>10}{'errors':>8}{'p50 ms':>9}{'p99 ms':>9}")
    for name in ("1 search", "2 hold", "3 pay"):
        entry = env.stats.get(name, "GET" if name == "1 search" else "POST")
        print(f"{name:<10}{entry.num_requests:>10}{entry.num_failures:>8}"
              f"{entry.get_response_time_percentile(0.5):>9.0f}{entry.get_response_time_percentile(0.99):>9.0f}")
    print(f"errors: {env.stats.total.num_failures}")
    print("CPU share by service: " + ", ".join(f"{name} {100 * seconds / total_cpu:.0f}%"
                                                for name, seconds in sorted(used.items(), key=lambda kv: -kv[1])))


if __name__ == "__main__":
    main()
