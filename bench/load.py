"""Load: the booking journey (search, hotel page, hold, pay) through the gateway, with Locust.

Starts the whole system as real processes on free ports (every service under the
same gunicorn settings as ``make up``, the nginx gateway, the SMTP sink), signs up
and logs in a pool of guests, then runs Locust headless. Prints, for one run:

* bookings per second, p50/p99 per step and for the whole journey, errors;
* each process's share of the CPU used during the run (read from /proc: every
  gunicorn master and worker, nginx, the SMTP sink);
* the service CPU per completed booking, its floor and their ratio. The floor is
  the number of HTTP requests one booking causes (through the gateway and between
  services, counted from the services' access lines) times the CPU one request to
  a bare Flask JSON endpoint costs under the same gunicorn settings, measured in
  the same run.

Closed model (each user books again as soon as a booking ends)::

    python bench/load.py --users 24 --seconds 30

Open model (a constant arrival rate of bookings per second, whatever the answers)::

    python bench/load.py --rate 10 --seconds 30

In the open model a journey starts every 1/N seconds (``--poisson``: at random, N a second on
average), each on a guest of its own, whether earlier ones have ended or not; a journey's time
counts from when it was due. Locust's own pacing (``constant_throughput`` over a pool of users) is
not open: the users it starts within one second keep starting together, so N a second came as
bursts of 3N a second, one second in three, and a user whose journey ran late started the next
one late (fewer arrivals than offered).
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402
from gevent.pool import Pool  # noqa: E402
from geventhttpclient import HTTPClient  # noqa: E402
from locust import FastHttpUser, constant, events, task  # noqa: E402
from locust.env import Environment  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hotelbook_chassis.testing import ServiceProcess, free_port  # noqa: E402
from hotelbook_stack.running import RunningSystem  # noqa: E402
from hotelbook_stack.services import BY_NAME  # noqa: E402
from tests.journey import GOOD_CARD, stay  # noqa: E402
from tests.reliability.conftest import logged_in_guests  # noqa: E402

GUESTS: list = []
HOTELS: list = []
BOOKINGS = {"done": 0}
COUNTER = itertools.count()
STEPS = ("1 search", "2 hotel page", "3 hold", "4 pay")
TICK = os.sysconf("SC_CLK_TCK")


class Booker(FastHttpUser):
    """One guest repeating the journey: search a city, open a hotel, hold a room, pay."""

    wait_time = constant(0)

    def on_start(self) -> None:
        self.guest = GUESTS[next(COUNTER) % len(GUESTS)]
        self.auth = {"Authorization": f"Bearer {self.guest.token}"}
        self.rng = random.Random(self.guest.email)

    @task
    def book(self, started: float | None = None) -> None:
        started = time.perf_counter() if started is None else started
        if self.journey():
            BOOKINGS["done"] += 1
            events.request.fire(request_type="JOURNEY", name="journey", response_time=1000 * (
                time.perf_counter() - started), response_length=0, exception=None, context={})

    def journey(self) -> bool:
        hotel = self.rng.choice(HOTELS)
        checkin, checkout = stay(self.rng.randint(20, 330), self.rng.randint(1, 3))
        with self.client.get("/api/search/hotels", params={"city": hotel["city"], "checkin": checkin,
                             "checkout": checkout, "guests": 2, "limit": 10}, name=STEPS[0],
                             catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"search {response.status_code} {problem_type(response)}")
                return False
        with self.client.get(f"/api/search/hotels/{hotel['id']}", name=STEPS[1],
                             catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"hotel page {response.status_code} {problem_type(response)}")
                return False
        with self.client.post("/api/reservations/reservations", json={
                "hotel_id": hotel["id"], "room_type_id": hotel["room_types"][0]["id"], "checkin": checkin,
                "checkout": checkout, "guests": 2}, headers=self.auth, name=STEPS[2],
                catch_response=True) as response:
            if response.status_code != 201:
                response.failure(f"hold {response.status_code} {problem_type(response)}")
                return False
            reservation_id = response.json()["id"]
        with self.client.post("/api/payments/payments", json={"reservation_id": reservation_id, "card": GOOD_CARD},
                              headers={**self.auth, "Idempotency-Key": uuid.uuid4().hex}, name=STEPS[3],
                              catch_response=True) as response:
            if response.status_code not in (200, 201):
                response.failure(f"pay {response.status_code} {problem_type(response)}")
                return False
        return True


def problem_type(response: object) -> str:
    """The problem+json ``type`` of an error answer, to tell errors apart."""
    try:
        return str(response.json().get("type", ""))  # type: ignore[attr-defined]
    except Exception:
        return ""


# --- the open model ---------------------------------------------------------------------


class Arrivals:
    """Journeys started at a fixed rate, each on an idle guest (a new one when all are busy), whatever the
    answers: how late the driver itself started them is kept, to tell its own stalls from the system's."""

    def __init__(self, env: Environment, rate: float, poisson: bool) -> None:
        self.env, self.rate, self.poisson = env, rate, poisson
        self.idle: list[Booker] = []
        self.users = 0
        self.started = 0
        self.late: list[float] = []
        self.rng = random.Random(1)
        Booker.host = env.host  # what Locust's runner sets on the users it starts

    def _user(self) -> Booker:
        if self.idle:
            return self.idle.pop()
        self.users += 1
        user = Booker(self.env)
        user.on_start()
        return user

    def _one(self, user: Booker, due: float) -> None:
        try:
            user.book(started=due)
        except Exception as error:  # a journey's failure is counted by its step; never stop the arrivals
            events.request.fire(request_type="JOURNEY", name="journey", response_time=0, response_length=0,
                                exception=error, context={})
        finally:
            self.idle.append(user)

    def run(self) -> None:
        due = time.perf_counter()
        while True:
            due += self.rng.expovariate(self.rate) if self.poisson else 1 / self.rate
            wait = due - time.perf_counter()
            if wait > 0:
                gevent.sleep(wait)
            self.late.append(time.perf_counter() - due)
            self.started += 1
            gevent.spawn(self._one, self._user(), due)

    def reset(self) -> None:
        self.started, self.late = 0, []


# --- CPU from /proc -------------------------------------------------------------------


def process_table() -> dict[int, tuple[int, float]]:
    """pid -> (parent pid, CPU seconds of the process and of its children it has reaped)."""
    table = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # fields[1] is the parent; utime, stime, cutime, cstime are fields[11:15]
        table[int(stat.parent.name)] = (int(fields[1]), sum(int(f) for f in fields[11:15]) / TICK)
    return table


def tree_cpu(roots: dict[str, int]) -> dict[str, float]:
    """CPU seconds of each named process and all its descendants (gunicorn workers, nginx workers)."""
    table = process_table()
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in table.items():
        children.setdefault(parent, []).append(pid)
    used = {}
    for name, root in roots.items():
        total, todo = 0.0, [root]
        while todo:
            pid = todo.pop()
            if pid in table:
                total += table[pid][1]
                todo.extend(children.get(pid, ()))
        used[name] = total
    return used


def own_cpu() -> float:
    times = os.times()
    return times.user + times.system


# --- the system ------------------------------------------------------------------------


TRACE_STORE = """
import sys
from pathlib import Path
from hotelbook_chassis.trace_store import TraceStore, make_server
make_server("127.0.0.1", int(sys.argv[1]), TraceStore(Path(sys.argv[2]))).serve_forever()
"""


class LoadSystem(RunningSystem):
    """The system as ``make up`` runs it: the SMTP sink and the trace store are processes of their own,
    so their CPU is counted."""

    def start_all(self) -> LoadSystem:
        folder = self.layout.var_dir / "mail"
        folder.mkdir(parents=True, exist_ok=True)
        self.smtp = subprocess.Popen([sys.executable, "-m", "hotelbook_chassis.smtp_sink", "--port",
                                      str(self.layout.ports["smtp"]), "--folder", str(folder)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Where the services and the gateway send their spans (the Procfile's `traces`).
        self.trace_store = subprocess.Popen([sys.executable, "-c", TRACE_STORE, str(self.layout.ports["traces"]),
                                             str(self.layout.traces_dir)],
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Bootstrap (with the admin client the load's hotels are written with), every service
        # process (each instance with --replicas), the gateway: as for the system tests.
        self._start_services()
        return self

    def close(self) -> None:
        super().close()
        for process in (self.smtp, self.trace_store):
            process.terminate()
            process.wait(10)

    def roots(self) -> dict[str, int]:
        roots = {name: process.process.pid for name, process in self.processes.items() if process.process}
        roots["gateway (nginx)"] = self.gateway.pid
        roots["smtp sink"] = self.smtp.pid
        roots["trace store"] = self.trace_store.pid
        return roots

    def access_lines(self) -> dict[str, int]:
        """Requests each service has answered so far: its access lines (one per request)."""
        counts = {}
        for name, process in self.processes.items():
            with process.log_path.open("rb") as log:
                counts[name] = sum(1 for line in log if b'"hotelbook.access"' in line)
        return counts


# --- the floor: one request to a bare Flask JSON endpoint --------------------------------


def bare_request_cpu(requests_count: int = 3000, concurrency: int = 8) -> float:
    """CPU seconds one request costs a bare Flask JSON endpoint under the services' gunicorn settings."""
    folder = Path(tempfile.mkdtemp(prefix="bare-"))
    body = folder / "body.json"
    body.write_text(json.dumps({"id": str(uuid.uuid4()), "name": "Hotel", "city": "Zürich", "stars": 4}))
    process = ServiceProcess("_bare_app:create_app()", {"BARE_BODY_FILE": str(body), "PYTHONPATH": str(ROOT / "bench")},
                             workers=BY_NAME["auth"].workers, cwd=ROOT / "bench", name="bare", port=free_port())
    process.start(30)
    try:
        client = HTTPClient("127.0.0.1", process.port, concurrency=concurrency, connection_timeout=5,
                            network_timeout=10)

        def one(_: int) -> None:
            response = client.get("/hotels")
            response.read()
            assert response.status_code == 200

        Pool(concurrency).map(one, range(300))  # warm up
        before = tree_cpu({"bare": process.process.pid})["bare"]
        Pool(concurrency).map(one, range(requests_count))
        after = tree_cpu({"bare": process.process.pid})["bare"]
        client.close()
    finally:
        process.stop()
    return (after - before) / requests_count


def profile(system: LoadSystem, folder: str, seconds: int) -> list[subprocess.Popen[bytes]]:
    """py-spy on each service's master and workers; where the time goes, per service, in ``folder``."""
    Path(folder).mkdir(parents=True, exist_ok=True)
    return [subprocess.Popen(["py-spy", "record", "--pid", str(process.process.pid), "--subprocesses", "--nonblocking",
                              "--gil", "--rate", "50", "--duration", str(seconds), "--format", "raw",
                              "--output", str(Path(folder) / f"{name}.txt")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for name, process in system.processes.items() if process.process]


# --- the run ---------------------------------------------------------------------------


def percentile(env: Environment, method: str, name: str, fraction: float) -> float:
    return env.stats.get(name, method).get_response_time_percentile(fraction) or 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=24, help="concurrent guests (closed model)")
    parser.add_argument("--rate", type=float, default=0,
                        help="open model: bookings started per second, whatever the answers")
    parser.add_argument("--poisson", action="store_true",
                        help="open model with random (Poisson) arrivals instead of one every 1/RATE seconds")
    parser.add_argument("--seconds", type=int, default=30, help="measured time")
    parser.add_argument("--warmup", type=int, default=5, help="seconds run before measuring")
    parser.add_argument("--guests", type=int, default=24, help="guest accounts the users share")
    parser.add_argument("--workers", type=int, help="gunicorn workers of every service (default: as make up)")
    parser.add_argument("--replicas", type=int, default=1,
                        help="instances of every service but the bank, behind the gateway and the service "
                             "addresses (as make up REPLICAS=N); 2 or more needs --postgres")
    parser.add_argument("--postgres", default=os.environ.get("POSTGRES_URL"), metavar="URL",
                        help="a PostgreSQL server (postgresql://user@host:port): one database per service, made "
                             "for the run and dropped after it (default: POSTGRES_URL, else SQLite)")
    parser.add_argument("--trace-ratio", type=float, default=None,
                        help="share of new traces sampled, at the gateway and in the services "
                             "(OTEL_TRACES_SAMPLER=parentbased_traceidratio); default as make up: every one")
    parser.add_argument("--profile", metavar="FOLDER",
                        help="also sample every service with py-spy during the measured time (collapsed stacks of "
                             "threads holding the GIL: where the CPU goes)")
    args = parser.parse_args()
    users = args.users
    if args.replicas > 1 and not args.postgres:
        parser.error("--replicas 2 or more needs --postgres (the instances share each service's database)")
    if args.workers:
        for name, service in list(BY_NAME.items()):
            BY_NAME[name] = dataclasses.replace(service, workers=args.workers)
    if args.trace_ratio is not None:
        os.environ["OTEL_TRACES_SAMPLER"] = "parentbased_traceidratio"
        os.environ["OTEL_TRACES_SAMPLER_ARG"] = f"{args.trace_ratio:g}"

    with tempfile.TemporaryDirectory() as var:
        system = LoadSystem(Path(var), hotels=50, housekeeping_every=30,  # as under make up
                            replicas=args.replicas, postgres_url=args.postgres)
        system.start_all()
        try:
            HOTELS.extend(system.create_hotel(city=city, rooms=500, name=f"Load {city} {i}")
                          for i, city in enumerate(["Zürich", "Lyon", "Porto", "Gdańsk"] * 2))
            GUESTS.extend(logged_in_guests(system, args.guests))

            env = Environment(user_classes=[Booker], events=events, host=system.gateway_url)
            runner = env.create_local_runner()
            arrivals = Arrivals(env, args.rate, args.poisson) if args.rate else None
            arriving = gevent.spawn(arrivals.run) if arrivals else None
            if not arrivals:
                runner.start(users, spawn_rate=users)
            gevent.sleep(args.warmup)
            env.stats.reset_all()
            if arrivals:
                arrivals.reset()
            BOOKINGS["done"] = 0
            cpu_before, lines_before, load_before = tree_cpu(system.roots()), system.access_lines(), own_cpu()
            started = time.monotonic()
            profilers = profile(system, args.profile, args.seconds) if args.profile else []
            gevent.sleep(args.seconds)
            cpu_after, lines_after, load_after = tree_cpu(system.roots()), system.access_lines(), own_cpu()
            elapsed = time.monotonic() - started
            bookings = BOOKINGS["done"]
            gateway_requests = sum(env.stats.get(name, "GET" if i < 2 else "POST").num_requests
                                   for i, name in enumerate(STEPS))
            if arriving:
                arriving.kill()
            runner.quit()
            for profiler in profilers:
                profiler.wait()
            bare = bare_request_cpu()
        finally:
            system.close()

    used = {name: cpu_after[name] - cpu_before.get(name, 0) for name in cpu_after}
    service_requests = {name: lines_after[name] - lines_before[name] for name in lines_after}
    total_cpu = sum(used.values())
    bookings_or_1 = bookings or 1
    if arrivals:
        model = (f"open model, {args.rate:g} bookings/s offered ({'Poisson' if args.poisson else 'evenly spaced'} "
                 f"arrivals; {arrivals.started} started, {arrivals.users} guests at most at once)")
    else:
        model = f"closed model, {users} concurrent guests"
    model += f", {args.replicas} instance{'s' if args.replicas > 1 else ''} per service"
    model += ", PostgreSQL" if args.postgres else ", SQLite"
    sampled = "every trace" if args.trace_ratio is None else f"{args.trace_ratio:g} of new traces"
    model += f"; tracing samples {sampled}"
    print(f"\nbookings: {bookings} in {elapsed:.1f}s = {bookings / elapsed:.1f} bookings/s ({model})")
    print(f"{'step':<14}{'requests':>10}{'errors':>8}{'p50 ms':>9}{'p99 ms':>9}")
    for i, name in enumerate(STEPS):
        entry = env.stats.get(name, "GET" if i < 2 else "POST")
        print(f"{name:<14}{entry.num_requests:>10}{entry.num_failures:>8}"
              f"{entry.get_response_time_percentile(0.5) or 0:>9.0f}"
              f"{entry.get_response_time_percentile(0.99) or 0:>9.0f}")
    journey = env.stats.get("journey", "JOURNEY")
    print(f"{'journey':<14}{journey.num_requests:>10}{'':>8}{journey.get_response_time_percentile(0.5) or 0:>9.0f}"
          f"{journey.get_response_time_percentile(0.99) or 0:>9.0f}")
    errors = sum(env.stats.get(name, "GET" if i < 2 else "POST").num_failures for i, name in enumerate(STEPS))
    print(f"errors: {errors}")
    for error in env.stats.errors.values():
        print(f"  {error.occurrences} x {error.name}: {error.error}")
    print("CPU share: " + ", ".join(f"{name} {100 * seconds / (total_cpu or 1):.0f}%"
                                    for name, seconds in sorted(used.items(), key=lambda kv: -kv[1])))
    print(f"  (stack {total_cpu / elapsed * 100:.0f}% of one core; the load generator used "
          f"{(load_after - load_before) / elapsed * 100:.0f}%)")
    if arrivals and arrivals.late:
        late = sorted(arrivals.late)
        print(f"journeys started late by the load generator: p50 {1000 * late[len(late) // 2]:.1f} ms, "
              f"p99 {1000 * late[int(len(late) * 0.99)]:.1f} ms, max {1000 * late[-1]:.1f} ms")
    per_booking = total_cpu / bookings_or_1
    inside = sum(service_requests.values())
    requests_per_booking = inside / bookings_or_1
    through_gateway = gateway_requests / bookings_or_1
    floor = requests_per_booking * bare
    print("requests per booking: {:.1f} answered by services = {:.1f} through the gateway + {:.1f} between "
          "services ({})".format(requests_per_booking, through_gateway, requests_per_booking - through_gateway,
                                 ", ".join(f"{name} {count / bookings_or_1:.1f}"
                                           for name, count in service_requests.items() if count)))
    print(f"bare Flask JSON request (same gunicorn settings): {bare * 1000:.2f} ms CPU")
    print(f"service CPU per booking: {per_booking * 1000:.1f} ms; floor {floor * 1000:.1f} ms "
          f"({requests_per_booking:.1f} x {bare * 1000:.2f} ms); ratio {per_booking / floor if floor else 0:.1f}x")


if __name__ == "__main__":
    main()
