"""Routing, prefix stripping, request ids, client addresses and the gateway's own answers."""

from __future__ import annotations

import re

import pytest
import requests
from conftest import Gateway


@pytest.mark.parametrize(("path", "service", "upstream_path"), [
    ("/", "booking-ui", "/"),
    ("/hotels?city=Paris", "booking-ui", "/hotels?city=Paris"),
    ("/static/app.css", "booking-ui", "/static/app.css"),
    ("/api/search/hotels?city=Rome&guests=2", "search", "/hotels?city=Rome&guests=2"),
    ("/api/reservations/reservations/abc", "reservations", "/reservations/abc"),
    ("/api/payments/payments/p1", "payments", "/payments/p1"),
    ("/api/users/users/me", "users", "/users/me"),
    ("/oauth/authorize?response_type=code", "auth", "/oauth/authorize?response_type=code"),
    ("/.well-known/jwks.json", "auth", "/.well-known/jwks.json"),
])
def test_routes_reach_their_service_with_the_api_prefix_stripped(gateway: Gateway, path, service, upstream_path):
    response = gateway.get(path)
    assert response.status_code == 200
    echo = response.json()
    assert echo["service"] == service
    assert echo["path"] == upstream_path


def test_bodies_and_methods_are_passed_on(gateway: Gateway):
    response = gateway.request("PATCH", "/api/users/users/me", json={"guests": 2})
    echo = response.json()
    assert echo["method"] == "PATCH"
    assert echo["body"] == '{"guests": 2}'


def test_the_host_and_forwarding_headers_reach_the_service(gateway: Gateway):
    echo = gateway.get("/api/search/hotels").json()
    assert echo["headers"]["host"] == f"127.0.0.1:{gateway.port}"
    assert echo["headers"]["x-forwarded-proto"] == "http"
    assert echo["headers"]["x-real-ip"] == "127.0.0.1"


def test_unknown_api_is_a_problem_404(gateway: Gateway, problem):
    for path in ("/api/nope/x", "/api/", "/api"):
        body = problem(gateway.get(path), 404)
        assert body["type"] == "urn:problem:hotelbook:not-found"


def test_upstream_errors_pass_through_untouched(gateway: Gateway):
    response = gateway.get("/api/search/hotels?status=404")
    assert response.status_code == 404
    assert response.json()["from"] == "search"


def test_request_id_is_made_when_absent_and_passed_upstream(gateway: Gateway):
    response = gateway.get("/api/search/hotels")
    request_id = response.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    assert response.json()["headers"]["x-request-id"] == request_id
    other = gateway.get("/api/search/hotels").headers["X-Request-ID"]
    assert other != request_id


def test_a_sane_request_id_is_kept(gateway: Gateway):
    sane = "journey-1:abc/DEF+=@x.y_z"
    response = gateway.get("/api/users/users/me", headers={"X-Request-ID": sane})
    assert response.headers["X-Request-ID"] == sane  # once, though the service echoes it too
    assert response.raw.headers.getlist("X-Request-ID") == [sane]
    assert response.json()["headers"]["x-request-id"] == sane
    assert gateway.log_for(sane)["path"] == "/api/users/users/me"


@pytest.mark.parametrize("insane", ["has space", "x" * 129, "semi;colon", "quote\"d", "a<b>c"])
def test_an_insane_request_id_is_replaced(gateway: Gateway, insane):
    response = gateway.get("/api/search/hotels", headers={"X-Request-ID": insane})
    request_id = response.headers["X-Request-ID"]
    assert request_id != insane
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    assert response.json()["headers"]["x-request-id"] == request_id


def test_problem_answers_carry_the_request_id_too(gateway: Gateway, problem):
    body = problem(gateway.get("/api/nope", headers={"X-Request-ID": "mine-404"}), 404)
    assert body["request_id"] == "mine-404"


def test_oversized_body_is_a_problem_413(gateway: Gateway, problem):
    response = gateway.request("POST", "/api/search/hotels", data=b"x" * (1024 * 1024 + 10),
                               headers={"Content-Type": "text/xml", "X-Request-ID": "big-1"})
    body = problem(response, 413)
    assert body["type"] == "urn:problem:hotelbook:payload-too-large"
    assert body["request_id"] == "big-1"
    assert response.headers["RateLimit-Limit"]  # counted like any other request


def test_a_body_just_under_the_limit_passes(gateway: Gateway):
    response = gateway.request("POST", "/api/reservations/reservations", data=b"x" * (1024 * 1024 - 10),
                               headers={"Content-Type": "text/xml"})
    assert response.status_code == 200
    assert len(response.json()["body"]) == 1024 * 1024 - 10


def test_trace_is_refused_by_the_waf(gateway: Gateway, problem):
    # nginx refuses TRACE before any handler runs (405); the WAF judges it on its
    # request line: a method no route has, refused as a probe (403, rule logged)
    response = gateway.request("TRACE", "/api/search/hotels", headers={"X-Request-ID": "trace-1"})
    body = problem(response, 403)
    assert body["type"] == "urn:problem:hotelbook:request-blocked"
    assert "method-not-allowed" in gateway.log_for("trace-1")["waf_rule"]


def test_upstream_down_is_a_problem_503(tmp_path, upstreams, problem):
    from hotelbook_chassis.testing import free_port

    dead = {**upstreams, "payments": f"127.0.0.1:{free_port()}"}
    gw = Gateway(tmp_path / "gw", dead).start()
    try:
        response = gw.request("POST", "/api/payments/payments", json={"reservation_id": "r"},
                              headers={"X-Request-ID": "down-1"})
        # No instance answered: a clear 503 the client may retry, not a bare 502.
        body = problem(response, 503)
        assert body["type"] == "urn:problem:hotelbook:upstream-unavailable"
        assert body["request_id"] == "down-1"
        assert response.headers["Retry-After"] == "1"
        entry = gw.log_for("down-1")
        assert entry["status"] == 503
        # the other services are still reachable
        assert gw.get("/api/search/hotels").status_code == 200
    finally:
        gw.stop()


def test_upstream_too_slow_is_a_problem_504(tmp_path, upstreams, problem):
    gw = Gateway(tmp_path / "gw", upstreams, "--read-timeout", "1").start()
    try:
        body = problem(gw.get("/api/search/hotels?sleep=2.5", headers={"X-Request-ID": "slow-1"}), 504)
        assert body["type"] == "urn:problem:hotelbook:upstream-timeout"
        assert body["request_id"] == "slow-1"
        # payments keeps its longer timeout
        assert gw.get("/api/payments/payments/p1?sleep=1.5").status_code == 200
    finally:
        gw.stop()


def test_forwarded_for_is_ignored_from_untrusted_clients(gateway: Gateway):
    echo = gateway.get("/api/search/hotels", headers={"X-Forwarded-For": "203.0.113.9",
                                                      "X-Request-ID": "xff-untrusted"}).json()
    assert echo["headers"]["x-real-ip"] == "127.0.0.1"
    assert echo["headers"]["x-forwarded-for"] == "127.0.0.1"  # the client's claim is dropped
    assert gateway.log_for("xff-untrusted")["remote_addr"] == "127.0.0.1"


def test_forwarded_for_is_believed_from_trusted_proxies(tmp_path, upstreams):
    gw = Gateway(tmp_path / "gw", upstreams, "--trusted-proxy", "127.0.0.1/32", "--trusted-proxy", "10.0.0.0/8").start()
    try:
        echo = gw.get("/api/search/hotels", headers={"X-Forwarded-For": "203.0.113.9, 10.1.2.3",
                                                     "X-Request-ID": "xff-trusted"}).json()
        assert echo["headers"]["x-real-ip"] == "203.0.113.9"
        assert echo["headers"]["x-forwarded-for"] == "203.0.113.9, 10.1.2.3, 127.0.0.1"
        assert gw.log_for("xff-trusted")["remote_addr"] == "203.0.113.9"
    finally:
        gw.stop()


def test_access_log_is_json_with_request_id_waf_and_rate_limit_fields(gateway: Gateway):
    gateway.get("/api/search/hotels?city=Paris", headers={"X-Request-ID": "log-1", "User-Agent": 'ua "quoted"'})
    entry = gateway.log_for("log-1")
    assert entry["method"] == "GET"
    assert entry["path"] == "/api/search/hotels"
    assert entry["query_names"] == "city"
    assert entry["status"] == 200
    assert entry["user_agent"] == 'ua "quoted"'
    assert entry["ratelimit_policy"] == "api"
    assert entry["ratelimit"] == "allowed"
    assert entry["waf_rule"] == ""
    assert entry["upstream_status"] == "200"


def test_keepalive_connections_are_reused(gateway: Gateway):
    with requests.Session() as session:
        ports = set()
        for _ in range(5):
            echo = session.get(f"{gateway.url}/api/search/hotels", timeout=5).json()
            assert echo["headers"].get("connection", "") != "close"
            ports.add(echo["service"])
        assert ports == {"search"}


def test_headers_too_large_for_nginx_are_a_problem_too(gateway: Gateway, problem):
    # Beyond large_client_header_buffers nginx refuses before any Lua runs.
    response = gateway.get("/api/search/hotels", headers={"X-Huge": "a" * 20000})
    body = problem(response, 400)
    assert re.fullmatch(r"[0-9a-f]{32}", body["request_id"])
