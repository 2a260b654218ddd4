"""What tracing costs one service: search under gunicorn with tracing off, on and
sampling every request, and on sampling 1%, loaded by wrk in interleaved rounds.

    python bench/tracing.py [--seconds 5] [--rounds 3]

Three search processes (one worker each) share one seeded SQLite catalogue; the
traced ones export to a local trace store in this process. Every request carries
a traceparent, as behind the gateway; the sampled share follows its flag (1 of
100 requests is marked sampled for the 1% case, as the gateway would). Prints
requests per second of each (best round) and the ratios to tracing off.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from hotelbook_chassis.testing import ServiceProcess, free_port
from hotelbook_chassis.trace_store import start_receiver

ROOT = Path(__file__).resolve().parents[1]
PATH = "/hotels?city=zurich&limit=10"

# wrk: every request gets a fresh traceparent; `sampled` of 100 carry the sampled flag.
WRK_SCRIPT = """
local sampled = tonumber(os.getenv("SAMPLED_PER_100") or "0")
local n = 0
math.randomseed(os.time())
local function hex(len)
    local t = {}
    for i = 1, len do t[i] = string.format("%x", math.random(0, 15)) end
    return table.concat(t)
end
request = function()
    n = n + 1
    local flags = (n % 100) < sampled and "01" or "00"
    local tp = "00-" .. hex(32) .. "-" .. hex(16) .. "-" .. flags
    return wrk.format("GET", nil, { traceparent = tp })
end
"""


def flask(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "-m", "flask", "--app", "hotelbook_search", *args], env=env, check=True,
                   capture_output=True, text=True)


def wrk(url: str, seconds: int, script: Path, sampled_per_100: int) -> float:
    result = subprocess.run(["wrk", "-t1", "-c8", f"-d{seconds}s", "-s", str(script), url],
                            capture_output=True, text=True, check=True,
                            env={**os.environ, "SAMPLED_PER_100": str(sampled_per_100)})
    match = re.search(r"Requests/sec:\s+([\d.]+)", result.stdout)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", result.stdout)
    if not match or errors:
        raise RuntimeError(result.stdout)
    return float(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        var = Path(folder)
        base = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
        base.update({"VAR_DIR": str(var), "DATABASE_URL": f"sqlite:///{var / 'search.db'}", "LOG_LEVEL": "INFO",
                     "SECRET_KEY": "bench-only-secret"})
        flask(base, "db", "upgrade")
        flask(base, "seed", "--hotels", "300")
        port = free_port()
        server, store = start_receiver("127.0.0.1", port, var / "traces")
        traced = {**base, "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}"}
        # name -> (environment, share of requests marked sampled)
        setups = {"off": (base, 0), "on, 100% sampled": (traced, 100), "on, 1% sampled": (traced, 1)}
        processes = {name: ServiceProcess("hotelbook_search:create_app()", env, workers=1, cwd=ROOT, name=name)
                     for name, (env, _) in setups.items()}
        script = var / "traceparent.lua"
        script.write_text(WRK_SCRIPT)
        try:
            for process in processes.values():
                process.start(60)
            for name, process in processes.items():  # warm up
                wrk(process.url + PATH, 1, script, setups[name][1])
            best = dict.fromkeys(setups, 0.0)
            for _ in range(args.rounds):  # interleaved: the machine is shared and noisy
                for name, process in processes.items():
                    best[name] = max(best[name], wrk(process.url + PATH, args.seconds, script, setups[name][1]))
        finally:
            for process in processes.values():
                process.stop()
            server.shutdown()
        print(f"search GET {PATH}, one gunicorn worker, best of {args.rounds} rounds of {args.seconds:g}s:")
        for name, rate in best.items():
            print(f"  tracing {name:<18} {rate:8.0f} req/s   ratio to off {rate / best['off']:.2f}")
        print(f"  spans stored: {len(store.spans())}")
        per_request = off_cost_per_request()
        print(f"tracing off, the chassis' own work per request (read the traceparent for the log line): "
              f"{per_request * 1e6:.1f} us = {per_request * best['off']:.5f} of the time a request takes")


def off_cost_per_request(rounds: int = 20000) -> float:
    """Seconds per request of what the chassis does with tracing off (in-process, timed apart)."""
    import time

    from flask import Flask, g

    from hotelbook_chassis import tracing

    app = Flask("bench")
    headers = {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
    with app.test_request_context("/", headers=headers):
        started = time.perf_counter()
        for _ in range(rounds):
            g.pop("_trace_ids", None)  # as a new request
            tracing.mark_request("r")
            tracing.current_ids()
        return (time.perf_counter() - started) / rounds


if __name__ == "__main__":
    main()
