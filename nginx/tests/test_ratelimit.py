"""Every rate limit policy: bursts, 429 problem+json, headers on every answer, recovery."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from conftest import NGINX_DIR, Gateway

ROUTES = json.loads((NGINX_DIR / "limits.json").read_text())["routes"]
SMALL = {
    "policies": {
        "token": {"limit": 3, "window": 2},
        "login": {"limit": 2, "window": 2},
        "api": {"limit": 5, "window": 2},
        "pages": {"limit": 8, "window": 2},
        "static": {"limit": 10, "window": 2},
        "wide": {"limit": 20, "window": 60},
    },
    "routes": [{"prefix": "/api/wide/", "policy": "wide"}, *ROUTES],
}
_addresses = (f"198.51.100.{i}" for i in itertools.count(1))


def client_ip() -> str:
    """A fresh client address per test (the gateway trusts X-Forwarded-For from 127.0.0.1 here)."""
    return next(_addresses)


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory, upstreams) -> Iterator[Gateway]:
    gw = Gateway(tmp_path_factory.mktemp("limited"), upstreams, "--trusted-proxy", "127.0.0.1",
                 "--workers", "4", limits=SMALL).start()
    yield gw
    gw.stop()


POLICY_REQUESTS = [
    ("token", "POST", "/oauth/token"),
    ("login", "POST", "/oauth/authorize"),
    ("api", "GET", "/api/search/hotels"),
    ("pages", "GET", "/hotels"),
    ("static", "GET", "/static/app.css"),
    ("static", "GET", "/oauth/theme/site.css"),
]


@pytest.mark.parametrize(("policy", "method", "path"), POLICY_REQUESTS)
def test_burst_up_to_the_limit_then_429(limited: Gateway, problem, policy, method, path):
    limit = SMALL["policies"][policy]["limit"]
    ip = client_ip()
    headers = {"X-Forwarded-For": ip}
    for i in range(limit):
        data = {"grant_type": "x"} if method == "POST" else None
        response = limited.request(method, path, headers=headers, data=data)
        assert response.status_code == 200, response.text
        assert response.headers["RateLimit-Limit"] == str(limit)
        assert response.headers["RateLimit-Remaining"] == str(limit - 1 - i)
        assert 1 <= int(response.headers["RateLimit-Reset"]) <= 2 * SMALL["policies"][policy]["window"]
        last_reset = int(response.headers["RateLimit-Reset"])
    refused = limited.request(method, path, headers={**headers, "X-Request-ID": f"limited-{policy}"})
    # with nothing left, Reset says when the next request fits, as Retry-After does
    assert abs(int(refused.headers["Retry-After"]) - last_reset) <= 1
    body = problem(refused, 429)
    assert body["type"] == "urn:problem:hotelbook:rate-limited"
    assert policy in body["detail"]
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.headers["RateLimit-Limit"] == str(limit)
    assert refused.headers["RateLimit-Remaining"] == "0"
    entry = limited.log_for(f"limited-{policy}")
    assert entry["status"] == 429
    assert entry["ratelimit_policy"] == policy
    assert entry["ratelimit"] == "limited"


def test_recovers_after_retry_after(limited: Gateway):
    headers = {"X-Forwarded-For": client_ip()}
    for _ in range(5):
        assert limited.get("/api/search/hotels", headers=headers).status_code == 200
    refused = limited.get("/api/search/hotels", headers=headers)
    assert refused.status_code == 429
    wait = int(refused.headers["Retry-After"])
    assert wait <= 4  # never more than two windows
    time.sleep(wait + 0.05)
    again = limited.get("/api/search/hotels", headers=headers)
    assert again.status_code == 200, again.headers
    # A full window later, the whole burst is available again.
    time.sleep(4.1)
    for _ in range(5):
        assert limited.get("/api/search/hotels", headers=headers).status_code == 200


def test_limits_are_per_client_address(limited: Gateway):
    first, second = {"X-Forwarded-For": client_ip()}, {"X-Forwarded-For": client_ip()}
    for _ in range(3):
        limited.request("POST", "/oauth/token", headers=first)
    assert limited.request("POST", "/oauth/token", headers=first).status_code == 429
    assert limited.request("POST", "/oauth/token", headers=second).status_code == 200


def test_policies_count_separately(limited: Gateway):
    headers = {"X-Forwarded-For": client_ip()}
    for _ in range(2):
        limited.request("POST", "/oauth/authorize", headers=headers)
    assert limited.request("POST", "/oauth/authorize", headers=headers).status_code == 429
    # the login page itself (GET) and the APIs are other policies
    assert limited.get("/oauth/authorize", headers=headers).status_code == 200
    assert limited.get("/api/search/hotels", headers=headers).status_code == 200
    assert limited.get("/oauth/authorize", headers=headers).headers["RateLimit-Limit"] == "5"


def test_every_answer_carries_the_rate_limit_headers(limited: Gateway):
    headers = {"X-Forwarded-For": client_ip()}
    answers = [
        limited.get("/api/search/hotels", headers=headers),  # proxied
        limited.get("/api/unknown/x", headers=headers),  # 404 made by the gateway
        limited.get("/api/search/hotels", params={"q": "<script>"}, headers=headers),  # 403 WAF
        limited.request("POST", "/api/search/hotels", data=b"x" * (1024 * 1024 + 1), headers=headers),  # 413
    ]
    assert [a.status_code for a in answers] == [200, 404, 403, 413]
    remaining = [int(a.headers["RateLimit-Remaining"]) for a in answers]
    assert remaining == [4, 3, 2, 1]
    for answer in answers:
        assert answer.headers["RateLimit-Limit"] == "5"
        assert int(answer.headers["RateLimit-Reset"]) >= 1


def test_untrusted_forwarded_for_does_not_escape_the_limit(tmp_path, upstreams):
    # 4 per minute, one of them taken by the start-up probe from 127.0.0.1
    limits = {"policies": {"api": {"limit": 4, "window": 60}}, "routes": [{"prefix": "/", "policy": "api"}]}
    gw = Gateway(tmp_path / "gw", upstreams, "--trusted-proxy", "10.0.0.0/8", limits=limits).start()
    try:
        codes = [gw.get("/api/search/hotels", headers={"X-Forwarded-For": client_ip()}).status_code
                 for _ in range(5)]
        assert codes == [200, 200, 200, 429, 429]
    finally:
        gw.stop()


def test_workers_share_one_counter(limited: Gateway):
    """Many connections at once land on the 4 workers; together they accept exactly the limit."""
    ip = client_ip()

    def one(_: int) -> int:
        with requests.Session() as session:  # a new connection each time
            return session.get(f"{limited.url}/api/wide/x", headers={"X-Forwarded-For": ip}, timeout=10).status_code

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(one, range(60)))
    assert codes.count(429) + codes.count(404) == 60
    # /api/wide/ is no service: 404s are the accepted requests
    assert 20 <= codes.count(404) <= 21


# --- one limit across several gateway instances (counters in Redis) ------------------------------


@pytest.fixture(scope="module")
def redis_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis of the test's own, on a free port, keeping nothing on disk."""
    import shutil
    import socket
    import subprocess

    from hotelbook_chassis.testing import free_port, require_or_skip

    require_or_skip(shutil.which("redis-server") is not None, "redis-server")
    port = free_port()
    folder = tmp_path_factory.mktemp("redis")
    server = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no", "--dir", str(folder)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                server.kill()
                raise
            time.sleep(0.05)
    yield f"127.0.0.1:{port}"
    server.terminate()
    server.wait(10)


def test_one_limit_holds_across_gateway_instances(tmp_path, upstreams, redis_address):
    """Two gateways naming one Redis: a client spreading its requests over both gets the limit once,
    not once per gateway (with their own shared dicts each would accept 20)."""
    gateways = [Gateway(tmp_path / f"gw{n}", upstreams, "--trusted-proxy", "127.0.0.1", "--workers", "2",
                        "--limits-redis", redis_address, limits=SMALL).start() for n in (1, 2)]
    try:
        ip = client_ip()
        codes = [gateways[n % 2].get("/api/wide/x", headers={"X-Forwarded-For": ip}).status_code
                 for n in range(50)]
        assert codes.count(429) + codes.count(404) == 50
        assert 20 <= codes.count(404) <= 21, codes  # 404: accepted (no such service)
        refused = gateways[1].get("/api/wide/x", headers={"X-Forwarded-For": ip})
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
        assert refused.headers["RateLimit-Remaining"] == "0"
        # Another client still has its whole limit, on either gateway.
        assert gateways[0].get("/api/wide/x", headers={"X-Forwarded-For": client_ip()}).status_code == 404
    finally:
        for gw in gateways:
            gw.stop()


def test_without_redis_each_gateway_counts_alone(tmp_path, upstreams):
    """Redis down: every request is still counted, in the gateway's own dict (a limit per instance)."""
    from hotelbook_chassis.testing import free_port

    gw = Gateway(tmp_path / "gw", upstreams, "--trusted-proxy", "127.0.0.1", "--workers", "1",
                 "--limits-redis", f"127.0.0.1:{free_port()}", limits=SMALL).start()
    try:
        ip = client_ip()
        codes = [gw.get("/api/wide/x", headers={"X-Forwarded-For": ip}).status_code for _ in range(25)]
        assert codes.count(404) == 20 and codes.count(429) == 5
    finally:
        gw.stop()
