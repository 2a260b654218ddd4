"""Gateway benchmark: what the Lua (rate limit + WAF) costs, and how exact the limiter is.

    python bench/gateway.py [--seconds 4] [--rounds 2]

1. Throughput with wrk, in one run and interleaved (the machine is shared and noisy):
   straight to a fast upstream (an nginx answering `return 200`), through the
   gateway rendered with --plain (proxy_pass only), and through the full Lua
   gateway (same routing plus rate limiting, our rules and the OWASP Core Rule Set
   at paranoia level 1). Two requests: a GET with a query and a 4 KiB JSON POST,
   whose values change on every request (so no memo of clean requests helps).
   Prints requests/s, the ratio Lua / plain (goal >= 0.5) and the p99 latency the
   WAF adds. A third request, the same GET every time, shows what a request asked
   again costs once its values have been judged.
2. Rate limiter accuracy: a policy of LIMIT requests per second, offered 10x that
   for 10 seconds over several connections and two nginx workers; prints the
   configured, offered and accepted rates and the error (goal: within 10%).
3. One limit across two gateways (`--limits-redis`, a Redis of its own): the same
   policy offered 5x its rate at each of two gateway instances at once; prints the
   accepted rate of both together (each counting alone would accept twice the
   limit), then what the shared counters cost: the gateway's CPU per request with
   the counters in Redis against in its own memory, and Redis's CPU per request.

Needs nginx with the Lua module and wrk (part 3: redis-server). Takes about a minute.
`--part shared` runs part 3 alone.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RENDER = ROOT / "nginx" / "render.py"
SERVICES = ("booking-ui", "search", "reservations", "payments", "users", "auth")
PATH = "/api/search/hotels?city=Paris&checkin=2026-12-01&checkout=2026-12-05&guests=2"
HEADERS = {
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Accept": "application/json",
    "Accept-Language": "en-GB,en;q=0.8",
}
LIMIT = 50  # requests per second for the accuracy run

UPSTREAM_CONF = """
worker_processes 1;
pid "{prefix}/upstream.pid";
error_log "{prefix}/upstream-error.log" warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path "{prefix}/tmp";
    proxy_temp_path "{prefix}/tmp";
    fastcgi_temp_path "{prefix}/tmp";
    uwsgi_temp_path "{prefix}/tmp";
    scgi_temp_path "{prefix}/tmp";
    keepalive_requests 100000;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            default_type application/json;
            return 200 '{{"items":[],"next_token":null}}';
        }}
    }}
}}
"""

# wrk script: paced requests (delay per request) and a count of answers by status.
PACED_SCRIPT = """
local threads = {{}}
function setup(thread) table.insert(threads, thread) end
function init(args) ok = 0; limited = 0; other = 0 end
function delay() return {delay_ms} end
function response(status, headers, body)
    if status == 200 then ok = ok + 1 elseif status == 429 then limited = limited + 1 else other = other + 1 end
end
function done(summary, latency, requests)
    local a, l, o = 0, 0, 0
    for _, t in ipairs(threads) do a = a + t:get("ok"); l = l + t:get("limited"); o = o + t:get("other") end
    io.write(string.format("COUNTS %d %d %d\\n", a, l, o))
end
"""


# wrk scripts: every request differs (a random tag per run and thread, and a counter, in
# the values), also from one run to the next: the gateway remembers values it has seen.
VARYING_GET = """
math.randomseed(os.time())
local counter = 0
function setup(thread) thread:set("tid", counter .. "r" .. math.random(1, 1000000000)); counter = counter + 1 end
local n = 0
function request()
    n = n + 1
    return wrk.format("GET", "/api/search/hotels?city=Paris" .. tid .. "x" .. n ..
        "&checkin=2026-12-01&checkout=2026-12-05&guests=2&sort=price&next_token=eyJvIjoy" .. n)
end
"""

# The same GET every time: what a page or an API call asked again costs once the WAF has
# judged its values (the worker remembers values that matched no rule).
REPEATED_GET = """
function request()
    return wrk.format("GET", "/api/search/hotels?city=Paris&checkin=2026-12-01&checkout=2026-12-05&guests=2")
end
"""

VARYING_POST = """
math.randomseed(os.time())
local counter = 0
function setup(thread) thread:set("tid", counter .. "r" .. math.random(1, 1000000000)); counter = counter + 1 end
local n = 0
local parts = {{}}
for i = 1, 63 do  -- about 4 KiB in all
    parts[#parts + 1] = string.format('"field%d": "Hotel guest %d, room for two adults, quiet floor"', i, i)
end
local tail = table.concat(parts, ", ")
function request()
    n = n + 1
    local body = '{{"reservation_id": "r-' .. tid .. '-' .. n .. '", "note": "late arrival ' .. n .. '", ' .. tail ..
        ', "nested": {{"card": {{"name": "Zo\\\\u00eb O\\'Brien", "number": "4242 4242 4242 4242"}}}}}}'
    return wrk.format("POST", "/api/reservations/reservations", {{["Content-Type"] = "application/json"}}, body)
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {port}")


class Nginx:
    def __init__(self, prefix: Path, conf: str = "nginx.conf") -> None:
        self.prefix, self.conf = prefix, conf
        self.process: subprocess.Popen[bytes] | None = None

    def cpu_seconds(self) -> float:
        """User + system CPU time of the worker processes so far (Linux /proc)."""
        if self.process is None:
            return 0.0
        total = 0
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        for pid in children.read_text().split() if children.exists() else []:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")

    def start(self, port: int) -> Nginx:
        self.process = subprocess.Popen(["nginx", "-p", str(self.prefix), "-c", self.conf, "-g", "daemon off;"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(port)
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def render_gateway(prefix: Path, port: int, upstream: int, *extra: str) -> None:
    command = [sys.executable, str(RENDER), "--prefix", str(prefix), "--listen", str(port), *extra]
    for name in SERVICES:
        command += ["--upstream", f"{name}=127.0.0.1:{upstream}"]
    subprocess.run(command, check=True, capture_output=True, text=True)


def limits_file(path: Path, limit: int, window: float) -> Path:
    routes = json.loads((ROOT / "nginx" / "limits.json").read_text())["routes"]
    policies = {name: {"limit": limit, "window": window} for name in ("token", "login", "api", "pages", "static")}
    path.write_text(json.dumps({"policies": policies, "routes": routes}))
    return path


def wrk(url: str, seconds: float, connections: int = 32, threads: int = 2, script: Path | None = None) -> str:
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--latency"]
    for name, value in HEADERS.items():
        command += ["-H", f"{name}: {value}"]
    if script:
        command += ["-s", str(script)]
    result = subprocess.run([*command, url], check=False, capture_output=True, text=True)
    # wrk exits 0 when its script does not load (and then sends plain GETs): its
    # complaints on stderr are failures too.
    if result.returncode != 0 or result.stderr.strip():
        raise RuntimeError(f"wrk failed: {result.stdout}{result.stderr}")
    return result.stdout


def p99_ms(output: str) -> float:
    match = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", output)
    if not match:
        raise RuntimeError(output)
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def requests_per_second(output: str) -> tuple[float, int]:
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    total = re.search(r"(\d+) requests in", output)
    if not match or not total:
        raise RuntimeError(output)
    if "Non-2xx" in output:
        raise RuntimeError("some answers were not 200:\n" + output)
    return float(match.group(1)), int(total.group(1))


def throughput(tmp: Path, seconds: float, rounds: int) -> None:
    upstream_port, plain_port, lua_port = free_port(), free_port(), free_port()
    (tmp / "up" / "tmp").mkdir(parents=True)
    (tmp / "up" / "nginx.conf").write_text(UPSTREAM_CONF.format(prefix=tmp / "up", port=upstream_port))
    # One worker each: the gateways are compared, not the machine's core count.
    render_gateway(tmp / "plain", plain_port, upstream_port, "--plain", "--workers", "1")
    render_gateway(tmp / "lua", lua_port, upstream_port, "--workers", "1",
                   "--limits", str(limits_file(tmp / "generous.json", 10**9, 60)))
    servers = {"upstream": Nginx(tmp / "up").start(upstream_port), "plain": Nginx(tmp / "plain").start(plain_port),
               "lua": Nginx(tmp / "lua").start(lua_port)}
    scripts = {"get": tmp / "get.lua", "post": tmp / "post.lua", "same": tmp / "same.lua"}
    scripts["get"].write_text(VARYING_GET)
    scripts["same"].write_text(REPEATED_GET)
    scripts["post"].write_text(VARYING_POST.format())
    try:
        targets = {"upstream": upstream_port, "plain": plain_port, "lua": lua_port}
        for port in targets.values():  # warm up connections, JIT and caches
            wrk(f"http://127.0.0.1:{port}{PATH}", 1, script=scripts["get"])
            wrk(f"http://127.0.0.1:{port}/", 1, script=scripts["post"])
        for kind, label in (("get", "GET with a query, new values each time"),
                            ("post", "POST of a 4 KiB JSON body, new values each time"),
                            ("same", "GET with a query, the same each time (values judged once per worker)")):
            rates: dict[str, list[float]] = {name: [] for name in targets}
            cpu: dict[str, list[float]] = {name: [] for name in targets}
            p99: dict[str, list[float]] = {name: [] for name in targets}
            ratios = []
            for round_ in range(rounds):
                # plain and Lua back to back, in alternating order: paired under the same noise
                order = ("plain", "lua", "upstream") if round_ % 2 == 0 else ("lua", "plain", "upstream")
                for name in order:
                    before = servers[name].cpu_seconds()
                    output = wrk(f"http://127.0.0.1:{targets[name]}/", seconds, script=scripts[kind])
                    rate, total = requests_per_second(output)
                    rates[name].append(rate)
                    p99[name].append(p99_ms(output))
                    cpu[name].append((servers[name].cpu_seconds() - before) / total * 1e6)
                ratios.append(rates["lua"][-1] / rates["plain"][-1])
            rate = {name: statistics.median(values) for name, values in rates.items()}
            cost = {name: statistics.median(values) for name, values in cpu.items()}
            lat = {name: statistics.median(values) for name, values in p99.items()}
            print(f"{label} (wrk -t2 -c32, {rounds} rounds x {seconds:g}s, medians)")
            print("                                  req/s   worker CPU/request   p99 latency")
            print(f"  straight to the upstream      {rate['upstream']:8.0f}   {cost['upstream']:8.1f} us"
                  f"        {lat['upstream']:6.2f} ms")
            print(f"  nginx plain proxy_pass        {rate['plain']:8.0f}   {cost['plain']:8.1f} us"
                  f"        {lat['plain']:6.2f} ms")
            print(f"  nginx + Lua (limits, WAF+CRS) {rate['lua']:8.0f}   {cost['lua']:8.1f} us"
                  f"        {lat['lua']:6.2f} ms")
            ratio = statistics.median(ratios)
            verdict = "met" if ratio >= 0.5 else "NOT met"
            print(f"  ratio Lua / plain (req/s)     {ratio:8.2f}   (median of paired rounds; goal >= 0.50: {verdict})")
            print(f"  ratio plain / Lua (CPU)       {cost['plain'] / cost['lua']:8.2f}   (gateway CPU alone)")
            print(f"  p99 latency added by the WAF  {lat['lua'] - lat['plain']:8.2f} ms (Lua p99 - plain p99)")
            print()
    finally:
        for server in servers.values():
            server.stop()


def accuracy(tmp: Path, seconds: float = 10) -> None:
    upstream_port, port = free_port(), free_port()
    (tmp / "up2" / "tmp").mkdir(parents=True)
    (tmp / "up2" / "nginx.conf").write_text(UPSTREAM_CONF.format(prefix=tmp / "up2", port=upstream_port))
    render_gateway(tmp / "limited", port, upstream_port, "--workers", "2",
                   "--limits", str(limits_file(tmp / "limit.json", LIMIT, 1)))
    connections = 20
    offered_target = LIMIT * 10
    script = tmp / "paced.lua"
    # each connection waits `delay` between answer and next request (~1 ms per answer)
    script.write_text(PACED_SCRIPT.format(delay_ms=round(1000 * connections / offered_target) - 1))
    servers = [Nginx(tmp / "up2").start(upstream_port), Nginx(tmp / "limited").start(port)]
    try:
        time.sleep(2.1)  # let the start-up probe's window fade
        output = wrk(f"http://127.0.0.1:{port}{PATH}", seconds, connections=connections, threads=2, script=script)
    finally:
        for server in servers:
            server.stop()
    match = re.search(r"COUNTS (\d+) (\d+) (\d+)", output)
    if not match:
        raise RuntimeError(output)
    accepted, limited, other = map(int, match.groups())
    offered = (accepted + limited + other) / seconds
    accepted_rate = accepted / seconds
    error = (accepted_rate - LIMIT) / LIMIT * 100
    print(f"rate limiter accuracy (policy {LIMIT} req/s, sliding window of 1 s, 2 workers, {seconds:g}s at ~10x)")
    print(f"  configured {LIMIT:7.1f} req/s")
    print(f"  offered    {offered:7.1f} req/s  ({offered / LIMIT:.1f}x)")
    print(f"  accepted   {accepted_rate:7.1f} req/s  (429: {limited}, other: {other})")
    print(f"  error      {error:+7.1f} %       (goal within 10%: {'met' if abs(error) <= 10 else 'NOT met'})")


def process_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def shared(tmp: Path, seconds: float = 10, rounds: int = 4) -> None:
    if shutil.which("redis-server") is None:
        print("one limit across gateways: skipped (redis-server is not installed)")
        return
    upstream_port, redis_port, alone_port = free_port(), free_port(), free_port()
    gateway_ports = [free_port(), free_port()]
    (tmp / "up3" / "tmp").mkdir(parents=True)
    (tmp / "up3" / "nginx.conf").write_text(UPSTREAM_CONF.format(prefix=tmp / "up3", port=upstream_port))
    redis = subprocess.Popen(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                              "--appendonly", "no", "--dir", str(tmp)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    limited = str(limits_file(tmp / "limit3.json", LIMIT, 1))
    generous = str(limits_file(tmp / "generous3.json", 10**9, 60))
    redis_flag = ["--limits-redis", f"127.0.0.1:{redis_port}"]
    for n, port in enumerate(gateway_ports):
        render_gateway(tmp / f"shared{n}", port, upstream_port, "--workers", "1", "--limits", limited, *redis_flag)
    render_gateway(tmp / "costs-redis", alone_port, upstream_port, "--workers", "1", "--limits", generous,
                   *redis_flag)
    render_gateway(tmp / "costs-dict", alone_port, upstream_port, "--workers", "1", "--limits", generous)
    servers = [Nginx(tmp / "up3").start(upstream_port)]
    try:
        wait_port(redis_port)
        servers += [Nginx(tmp / f"shared{n}").start(port) for n, port in enumerate(gateway_ports)]
        connections = 10
        script = tmp / "paced3.lua"
        script.write_text(PACED_SCRIPT.format(delay_ms=round(1000 * connections / (LIMIT * 5)) - 1))
        time.sleep(2.1)  # let the start-up probes' window fade
        runs = [subprocess.Popen(["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "-s", str(script),
                                  f"http://127.0.0.1:{port}{PATH}"], stdout=subprocess.PIPE, text=True)
                for port in gateway_ports]
        outputs = [run.communicate()[0] for run in runs]
        counts = [tuple(map(int, re.search(r"COUNTS (\d+) (\d+) (\d+)", out).groups())) for out in outputs]
        for server in servers[1:]:
            server.stop()
        servers = servers[:1]
        accepted = sum(c[0] for c in counts) / seconds
        offered = sum(sum(c) for c in counts) / seconds
        print(f"one limit across two gateways (policy {LIMIT} req/s, counters in Redis, {seconds:g}s)")
        print(f"  offered    {offered:7.1f} req/s  (half at each gateway)")
        print(f"  accepted   {accepted:7.1f} req/s  by both together "
              f"({', '.join(f'{c[0] / seconds:.1f}' for c in counts)}; each alone would accept {LIMIT})")
        print(f"  error      {(accepted - LIMIT) / LIMIT * 100:+7.1f} %")
        # What the shared counters cost a request: the same gateway with its counters in its own
        # memory and in Redis, in alternating rounds.
        cost: dict[str, list[float]] = {"dict": [], "redis": []}
        redis_cost: list[float] = []
        get = tmp / "get3.lua"
        get.write_text(VARYING_GET)
        for round_ in range(rounds):
            for name in (("dict", "redis") if round_ % 2 == 0 else ("redis", "dict")):
                gateway = Nginx(tmp / f"costs-{name}").start(alone_port)
                try:
                    wrk(f"http://127.0.0.1:{alone_port}{PATH}", 1, script=get)  # warm up
                    before, redis_before = gateway.cpu_seconds(), process_cpu(redis.pid)
                    _, total = requests_per_second(wrk(f"http://127.0.0.1:{alone_port}/", 3, script=get))
                    cost[name].append((gateway.cpu_seconds() - before) / total * 1e6)
                    if name == "redis":
                        redis_cost.append((process_cpu(redis.pid) - redis_before) / total * 1e6)
                finally:
                    gateway.stop()
        local, remote = statistics.median(cost["dict"]), statistics.median(cost["redis"])
        print(f"  gateway CPU per request: {local:.1f} us counting in its memory, {remote:.1f} us counting in Redis "
              f"(+{remote - local:.1f} us); Redis {statistics.median(redis_cost):.1f} us per request "
              f"({rounds} rounds, medians)")
    finally:
        for server in servers:
            server.stop()
        redis.terminate()
        redis.wait(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--part", choices=("all", "throughput", "accuracy", "shared"), default="all")
    args = parser.parse_args()
    for tool in ("nginx", "wrk"):
        if shutil.which(tool) is None:
            print(f"skipped: {tool} is not installed")
            return 0
    with tempfile.TemporaryDirectory(prefix="bench-gateway-") as tmp:
        if args.part in ("all", "throughput"):
            throughput(Path(tmp), args.seconds, args.rounds)
            print()
        if args.part in ("all", "accuracy"):
            accuracy(Path(tmp))
            print()
        if args.part in ("all", "shared"):
            shared(Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
