"""Search: latency with 10k vs 1M hotels, and gunicorn throughput vs a bare Flask endpoint.

    python bench/search.py [--small 10000] [--large 1000000] [--seconds 5]

Goals: p50 with the large catalogue within 2x of the small one (indexes, not
scans); search requests/s at least 0.5x a bare Flask endpoint returning a
constant JSON body of the same size under the same gunicorn settings.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Tokens

from hotelbook_chassis.migrations import upgrade
from hotelbook_chassis.testing import ServiceProcess
from hotelbook_search import create_app
from hotelbook_search.models import City, db
from hotelbook_search.seed import seed

BENCH = Path(__file__).resolve().parent


def seeded(folder: Path, hotels: int) -> tuple[str, float]:
    url = f"sqlite:///{folder}/search-{hotels}.db"
    app = create_app({**Tokens().config("search"), "SQLALCHEMY_DATABASE_URI": url, "VAR_DIR": str(folder)})
    upgrade(app)
    started = time.perf_counter()
    with app.app_context():
        seed(hotels)
    return url, time.perf_counter() - started


def latencies(url: str, folder: Path, city: str, runs: int = 400) -> tuple[float, float]:
    app = create_app({**Tokens().config("search"), "SQLALCHEMY_DATABASE_URI": url, "VAR_DIR": str(folder)})
    client = app.test_client()
    query = f"/hotels?city={city}&limit=20&sort=-stars"
    for _ in range(20):
        client.get(query)
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(query)
        samples.append(time.perf_counter() - started)
        assert response.status_code == 200 and len(response.json["items"]) == 20
    samples.sort()
    return statistics.median(samples) * 1000, samples[int(len(samples) * 0.99) - 1] * 1000


def busiest_city(url: str, folder: Path) -> str:
    app = create_app({**Tokens().config("search"), "SQLALCHEMY_DATABASE_URI": url, "VAR_DIR": str(folder)})
    with app.app_context():
        return db.session.scalars(db.select(City.name).order_by(City.hotels.desc()).limit(1)).one()


def wrk(url: str, seconds: int) -> float:
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")
    out = subprocess.run(["wrk", "-t2", "-c16", f"-d{seconds}s", url], capture_output=True, text=True,
                         check=True).stdout
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        small_url, small_seed = seeded(folder, args.small)
        large_url, large_seed = seeded(folder, args.large)
        city = busiest_city(small_url, folder)
        small = latencies(small_url, folder, city)
        large = latencies(large_url, folder, city)
        print(f"\nseeding: {args.small} hotels in {small_seed:.1f}s, {args.large} in {large_seed:.1f}s")
        print(f"city search '{city}', 20 per page, sorted by stars (in-process):")
        print(f"  {args.small:>9} hotels: p50 {small[0]:.2f} ms  p99 {small[1]:.2f} ms")
        print(f"  {args.large:>9} hotels: p50 {large[0]:.2f} ms  p99 {large[1]:.2f} ms")
        print(f"  ratio large/small p50: {large[0] / small[0]:.2f}x (goal <= 2)")

        env = {"DATABASE_URL": small_url, "VAR_DIR": tmp, "JSON_LOGS": "0", "LOG_LEVEL": "WARNING",
               "SECRET_KEY": "bench"}
        query = f"/hotels?city={city}&limit=20"
        with ServiceProcess("hotelbook_search:create_app()", env, workers=2, name="search") as service:
            import requests

            body = requests.get(service.url + query, timeout=5).content
            search_rps = wrk(service.url + query, args.seconds)
        (folder / "body.json").write_bytes(body)
        bare_env = {**env, "BARE_BODY_FILE": str(folder / "body.json")}
        with ServiceProcess("_bare_app:create_app()", bare_env, workers=2, cwd=BENCH, name="bare") as bare:
            bare_rps = wrk(bare.url + "/hotels", args.seconds)
        print(f"\ngunicorn, 2 workers x 4 threads, wrk 16 connections, {len(body)} byte answers:")
        print(f"  search GET /hotels: {search_rps:.0f} req/s; bare Flask constant JSON: {bare_rps:.0f} req/s")
        print(f"  ratio search/bare: {search_rps / bare_rps:.2f} (goal >= 0.5)")


if __name__ == "__main__":
    main()
