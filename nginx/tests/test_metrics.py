"""The gateway's counters (lua/hotelbook/metrics.lua) on the internal /metrics listener."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import requests
from conftest import Gateway

from hotelbook_chassis.testing import free_port

# One tight policy on search, so a few requests reach the 429.
LIMITS = {"policies": {"api": {"limit": 3, "window": 60}, "pages": {"limit": 100000, "window": 60}},
          "routes": [{"prefix": "/api/search/", "policy": "api"}, {"prefix": "/", "policy": "pages"}]}


@pytest.fixture(scope="module")
def counted(tmp_path_factory: pytest.TempPathFactory, upstreams: dict[str, str]) -> Iterator[tuple[Gateway, str]]:
    port = free_port()
    gateway = Gateway(tmp_path_factory.mktemp("metrics"), upstreams, "--metrics-listen", str(port),
                      limits=LIMITS).start()
    yield gateway, f"http://127.0.0.1:{port}/metrics"
    gateway.stop()


def sample(text: str, name: str, label: str, value: str) -> float:
    match = re.search(rf'^{name}\{{{label}="{re.escape(value)}"\}} (\d+)$', text, re.M)
    return float(match.group(1)) if match else 0.0


def test_blocks_and_rejections_are_counted_by_rule_and_policy(counted):
    gateway, metrics = counted
    empty = requests.get(metrics, timeout=5)
    assert empty.status_code == 200 and empty.headers["Content-Type"].startswith("text/plain")
    # Every family is declared even before its first count.
    for name in ("hotelbook_gateway_waf_blocks_total", "hotelbook_gateway_ratelimit_rejections_total",
                 "hotelbook_gateway_requests_total"):
        assert f"# TYPE {name} counter" in empty.text
    blocked = gateway.get("/", params={"q": "1' union select password from users--"})
    assert blocked.status_code == 403
    statuses = [gateway.get("/api/search/hotels").status_code for _ in range(6)]
    limited = statuses.count(429)
    assert limited >= 1 and statuses.count(200) == len(statuses) - limited
    text = requests.get(metrics, timeout=5).text
    # (the start-up check of the fixture made one request before the test)
    def delta(name: str, label: str, value: str) -> float:
        return sample(text, name, label, value) - sample(empty.text, name, label, value)

    assert delta("hotelbook_gateway_waf_blocks_total", "rule", blocked.json()["rule_id"]) == 1
    assert delta("hotelbook_gateway_ratelimit_rejections_total", "policy", "api") == limited
    assert delta("hotelbook_gateway_requests_total", "status", "4xx") == 1 + limited
    assert delta("hotelbook_gateway_requests_total", "status", "2xx") == len(statuses) - limited


def test_the_counters_are_not_on_the_public_listener(counted):
    gateway, metrics = counted
    assert requests.get(metrics.replace("/metrics", "/other"), timeout=5).status_code == 404
    public = gateway.get("/metrics")
    assert "hotelbook_gateway_" not in public.text
