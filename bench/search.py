"""Search: gunicorn throughput against a bare Flask endpoint, and latency with a small vs a large catalogue.

    python bench/search.py [--hotels 10000] [--large 1000000] [--seconds 5] [--rounds 3]

Goals: a city search without dates serves at least 0.7x the requests/s of a
bare Flask endpoint returning a constant JSON body of the same size under the
same gunicorn settings, a search with dates (one batched availability call)
0.4x; p99 with the large catalogue (--large, optional: seeding a million
hotels takes minutes) within 2x that with the small one. The three servers
are measured in alternating rounds so the machine's noise hits all of them;
each one's CPU time per request (from /proc, master and workers) is printed
beside its requests/s. The bare app also answers the availability calls of the
searches with dates, on the same cores: its CPU per such search is printed too,
since a search with dates can only reach the requests/s its own CPU and that
answer's leave room for.

search keeps a search's answer without dates, and its candidate hotels with
dates, until the catalogue changes (search/hotelbook_search/actions/answers.py): the
repeated query of the throughput runs is served from them, as the busy cities
of a real day are. A second search server with nothing kept
(SEARCH_KEEP_ANSWERS=0) measures the query path itself, in the same rounds; the
latency comparison between the catalogues runs with nothing kept, since that is
what grows with the catalogue.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Tokens
from flask import Flask

from hotelbook_chassis.migrations import upgrade
from hotelbook_chassis.testing import ServiceProcess
from hotelbook_search import create_app
from hotelbook_search.cli import seed
from hotelbook_search.models import City, db

BENCH = Path(__file__).resolve().parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def app_for(url: str, folder: Path, keep_answers: bool = True) -> Flask:
    return create_app({**Tokens().config("search"), "SQLALCHEMY_DATABASE_URI": url, "VAR_DIR": str(folder),
                       "KEEP_ANSWERS": keep_answers})


def seeded(folder: Path, hotels: int) -> tuple[str, float, float]:
    """A migrated SQLite catalogue of ``hotels``: its URL, the seed's wall and CPU seconds."""
    url = f"sqlite:///{folder}/search-{hotels}.db"
    app = app_for(url, folder)
    upgrade(app)
    started, cpu = time.perf_counter(), time.process_time()
    with app.app_context():
        seed(hotels)
    return url, time.perf_counter() - started, time.process_time() - cpu


def busiest_city(url: str, folder: Path) -> str:
    with app_for(url, folder).app_context():
        return db.session.scalars(db.select(City.name).order_by(City.hotels.desc()).limit(1)).one()


def latencies(urls: list[str], folder: Path, query: str, runs: int = 1000) -> list[tuple[float, float]]:
    """In-process p50/p99 (ms) of one query on each catalogue, requests alternating between them."""
    clients = [app_for(url, folder, keep_answers=False).test_client() for url in urls]
    samples: list[list[float]] = [[] for _ in urls]
    for run in range(runs + 50):
        for client, out in zip(clients, samples, strict=True):
            started = time.perf_counter()
            response = client.get(query)
            if run >= 50:  # warm-up first
                out.append(time.perf_counter() - started)
            assert response.status_code == 200 and len(response.json["items"]) == 20, response.json
    return [(statistics.median(s) * 1000, statistics.quantiles(s, n=100)[98] * 1000) for s in samples]


@contextmanager
def started(service: ServiceProcess) -> Iterator[ServiceProcess]:
    """A server started with time to boot on a busy machine, stopped afterwards."""
    try:
        yield service.start(timeout=180)
    finally:
        service.stop()


def cpu_seconds(pid: int) -> float:
    """CPU time of a gunicorn master and its workers."""
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    total = 0
    for one in pids:
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLOCK_TICKS


def wrk(service: ServiceProcess, path: str, seconds: int, peer: ServiceProcess | None = None
        ) -> tuple[float, float, float]:
    """Requests/s, CPU ms per request of the serving processes, and of ``peer``'s (the servers it calls)."""
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")
    assert service.process is not None
    pids = [service.process.pid] + ([peer.process.pid] if peer and peer.process else [])
    before = [cpu_seconds(pid) for pid in pids]
    out = subprocess.run(["wrk", "-t2", "-c16", f"-d{seconds}s", service.url + path], capture_output=True,
                         text=True, check=True).stdout
    cpu = [cpu_seconds(pid) - started for pid, started in zip(pids, before, strict=True)] + [0.0]
    requests = max(int(re.search(r"(\d+) requests in", out).group(1)), 1)
    if re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        sys.exit(f"errors while benchmarking {path}:\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), cpu[0] * 1000 / requests, \
        cpu[1] * 1000 / requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hotels", type=int, default=10_000, help="the small catalogue (throughput runs on it)")
    parser.add_argument("--large", type=int, default=0, help="also seed this many and compare latencies")
    parser.add_argument("--seconds", type=int, default=5, help="per wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of the servers")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        small_url, small_wall, small_cpu = seeded(folder, args.hotels)
        print(f"seeding {args.hotels:,} hotels: {small_wall:.1f}s ({small_cpu:.1f}s CPU)")
        city = busiest_city(small_url, folder)
        checkin = date.today() + timedelta(days=30)
        plain = f"/hotels?city={city}&limit=20"
        dated = f"{plain}&checkin={checkin}&checkout={checkin + timedelta(days=2)}&guests=2"

        if args.large:
            large_url, large_wall, large_cpu = seeded(folder, args.large)
            print(f"seeding {args.large:,} hotels: {large_wall:.1f}s ({large_cpu:.1f}s CPU)")
            query = f"/hotels?city={city}&limit=20&sort=-stars"
            small, large = latencies([small_url, large_url], folder, query)
            print(f"\nin-process latency of '{query}' (nothing kept), requests alternating between the catalogues:")
            print(f"  {args.hotels:>9,} hotels: p50 {small[0]:.2f} ms  p99 {small[1]:.2f} ms")
            print(f"  {args.large:>9,} hotels: p50 {large[0]:.2f} ms  p99 {large[1]:.2f} ms")
            print(f"  large/small: p50 {large[0] / small[0]:.2f}x, p99 {large[1] / small[1]:.2f}x (goal p99 <= 2x)")

        env = {"DATABASE_URL": small_url, "VAR_DIR": tmp, "JSON_LOGS": "0", "LOG_LEVEL": "WARNING",
               "SECRET_KEY": "bench"}
        import requests

        with started(ServiceProcess("hotelbook_search:create_app()", env, workers=2, name="search")) as search:
            body = requests.get(search.url + plain, timeout=5).content
        (folder / "body.json").write_bytes(body)
        bare_env = {**env, "BARE_BODY_FILE": str(folder / "body.json")}
        runs: dict[str, list[tuple[float, float, float]]] = {"bare": [], "search": [], "dates": [], "search cold": [],
                                                             "dates cold": []}
        with started(ServiceProcess("_bare_app:create_app()", bare_env, workers=2, cwd=BENCH, name="bare")) as bare, \
                started(ServiceProcess("hotelbook_search:create_app()", {**env, "RESERVATIONS_URL": bare.url},
                                       workers=2, name="search")) as search, \
                started(ServiceProcess("hotelbook_search:create_app()",
                                       {**env, "RESERVATIONS_URL": bare.url, "SEARCH_KEEP_ANSWERS": "0"},
                                       workers=2, name="search-cold")) as cold:
            for server in (search, cold):
                answer = requests.get(server.url + dated, timeout=5).json()["items"]
                assert answer and answer[0]["available"] is True, answer
            for _ in range(args.rounds):
                runs["bare"].append(wrk(bare, "/hotels", args.seconds))
                runs["search"].append(wrk(search, plain, args.seconds))
                runs["dates"].append(wrk(search, dated, args.seconds, peer=bare))
                runs["search cold"].append(wrk(cold, plain, args.seconds))
                runs["dates cold"].append(wrk(cold, dated, args.seconds))
        rps = {name: statistics.median(r for r, _, _ in found) for name, found in runs.items()}
        cpu = {name: statistics.median(c for _, c, _ in found) for name, found in runs.items()}
        peer = statistics.median(p for _, _, p in runs["dates"])
        print(f"\ngunicorn, 2 workers x 4 threads each, wrk 16 connections, {args.rounds} alternating rounds of "
              f"{args.seconds}s, medians; {len(body):,} byte answers:")
        print(f"  bare Flask constant JSON:          {rps['bare']:7.0f} req/s  {cpu['bare']:.2f} ms CPU/request")
        print(f"  search without dates:              {rps['search']:7.0f} req/s  {cpu['search']:.2f} ms CPU/request")
        print(f"  search with dates (+availability): {rps['dates']:7.0f} req/s  {cpu['dates']:.2f} ms CPU/request "
              "(search's own; the availability answers are the bare app's)")
        print(f"  the bare app answering availability: {peer:.2f} ms CPU per search with dates (on the same cores: "
              "with dates, req/s pays for both)")
        print(f"  nothing kept, without dates:       {rps['search cold']:7.0f} req/s  {cpu['search cold']:.2f} ms "
              "CPU/request")
        print(f"  nothing kept, with dates:          {rps['dates cold']:7.0f} req/s  {cpu['dates cold']:.2f} ms "
              "CPU/request")
        print(f"  ratio without dates: {rps['search'] / rps['bare']:.2f} req/s, "
              f"{cpu['bare'] / cpu['search']:.2f} by CPU (goal >= 0.7); nothing kept "
              f"{rps['search cold'] / rps['bare']:.2f}, {cpu['bare'] / cpu['search cold']:.2f}")
        print(f"  ratio with dates:    {rps['dates'] / rps['bare']:.2f} req/s, "
              f"{cpu['bare'] / cpu['dates']:.2f} by CPU (goal >= 0.4); nothing kept "
              f"{rps['dates cold'] / rps['bare']:.2f}, {cpu['bare'] / cpu['dates cold']:.2f}")


if __name__ == "__main__":
    main()
