"""The allow-list of public operations (routes.json), with the real file, in front of echo apps.

Only what the booking UI, a guest's API calls and OAuth clients need goes through;
internals (metrics, readiness, the services' own OpenAPI documents) and the
service-to-service endpoints answer the gateway's own 404 and never reach a service.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import GENEROUS_LIMITS, NGINX_DIR, Gateway, nginx_available, render

from hotelbook_chassis.testing import require_or_skip

sys.path.insert(0, str(NGINX_DIR))
import public_openapi

ID = str(uuid.uuid4())

INTERNAL = [
    # every service's operator endpoints
    *[(method, f"/api/{name}/{path}") for name in ("search", "reservations", "payments", "users")
      for path in ("metrics", "readyz", "healthz", "openapi.json") for method in ("GET", "HEAD")],
    ("GET", "/metrics"), ("GET", "/readyz"), ("GET", "/openapi.json"),  # booking-ui's own
    ("GET", "/oauth/metrics"), ("GET", "/.well-known/openapi.json"),
    # service-to-service endpoints
    ("POST", "/api/reservations/availability"),
    ("POST", f"/api/reservations/reservations/{ID}/confirm"),
    ("POST", f"/api/payments/payments/{ID}/refund"),
    ("POST", "/api/users/credentials/verify"),
    ("GET", f"/api/users/users/{ID}"),
    ("POST", "/session-revocations"),  # booking-ui's (users ends browser sessions); auth's is not routed at all
    # catalogue administration (operators, on search's own port)
    ("POST", "/api/search/hotels"),
    ("PATCH", f"/api/search/hotels/{ID}"),
    ("DELETE", f"/api/search/hotels/{ID}"),
    ("POST", f"/api/search/hotels/{ID}/room-types"),
    ("PATCH", f"/api/search/hotels/{ID}/room-types/{ID}"),
    # a public path with a method it does not have
    ("GET", "/api/payments/payments"),
    ("DELETE", f"/api/reservations/reservations/{ID}"),
    ("PUT", "/api/users/users/me"),
    ("GET", "/oauth/token"),
    ("OPTIONS", "/api/search/hotels"),
    # spellings that normalise to an internal path (nginx's $uri is what is checked and sent)
    ("GET", "/api/search/hotels/../metrics"),
    ("GET", "/api/search//metrics"),
    ("GET", "/api/search/%6detrics"),
    ("GET", "/static/../metrics"),
    ("GET", "/static/..%2Fmetrics"),
    ("GET", "/static/%2e%2e/readyz"),
    ("GET", "/api/users/users/me/../" + ID),
    ("GET", "/metrics%0A"),
    ("GET", "/api/search/hotels%0A"),
    ("GET", "/api/search/hotels/"),
]

PUBLIC = [
    # booking-ui: pages, forms, static files
    ("GET", "/", "booking-ui", "/"),
    ("HEAD", "/", "booking-ui", "/"),
    ("GET", "/hotels?city=Paris", "booking-ui", "/hotels?city=Paris"),
    ("GET", f"/hotels/{ID}", "booking-ui", f"/hotels/{ID}"),
    ("GET", "/suggest/cities?prefix=Zu", "booking-ui", "/suggest/cities?prefix=Zu"),
    ("POST", "/signup", "booking-ui", "/signup"),
    ("GET", "/login?next=/reservations", "booking-ui", "/login?next=/reservations"),
    ("GET", "/auth/callback?code=c&state=s", "booking-ui", "/auth/callback?code=c&state=s"),
    ("POST", "/logout", "booking-ui", "/logout"),
    ("GET", "/verify-email?token=t", "booking-ui", "/verify-email?token=t"),
    ("POST", "/forgot-password", "booking-ui", "/forgot-password"),
    ("POST", "/reset-password", "booking-ui", "/reset-password"),
    ("POST", "/reservations", "booking-ui", "/reservations"),
    ("GET", f"/reservations/{ID}", "booking-ui", f"/reservations/{ID}"),
    ("POST", f"/reservations/{ID}/pay", "booking-ui", f"/reservations/{ID}/pay"),
    ("GET", f"/reservations/{ID}/receipt.pdf", "booking-ui", f"/reservations/{ID}/receipt.pdf"),
    ("POST", f"/reservations/{ID}/cancel", "booking-ui", f"/reservations/{ID}/cancel"),
    ("GET", "/static/site.css", "booking-ui", "/static/site.css"),
    ("GET", "/static/img/a/b.svg", "booking-ui", "/static/img/a/b.svg"),
    ("GET", "/static/x/../site.js", "booking-ui", "/static/site.js"),  # the service sees the normalised path
    ("GET", "/healthz", "booking-ui", "/healthz"),  # the gateway's health probe: it can proxy
    ("GET", "/oauth/theme/site.css", "auth", "/oauth/theme/site.css"),  # the login page's look
    # the guest's API (tests/journey.py) and the booking UI's calls through the gateway
    ("GET", "/api/search/hotels?city=Rome&guests=2", "search", "/hotels?city=Rome&guests=2"),
    ("GET", "/api/search/cities?prefix=Ro", "search", "/cities?prefix=Ro"),
    ("GET", f"/api/search/hotels/{ID}", "search", f"/hotels/{ID}"),
    ("POST", "/api/reservations/reservations", "reservations", "/reservations"),
    ("GET", "/api/reservations/reservations?limit=5", "reservations", "/reservations?limit=5"),
    ("GET", f"/api/reservations/reservations/{ID}", "reservations", f"/reservations/{ID}"),
    ("POST", f"/api/reservations/reservations/{ID}/cancel", "reservations", f"/reservations/{ID}/cancel"),
    ("GET", f"/api/reservations/reservations/{ID}/receipt.pdf", "reservations", f"/reservations/{ID}/receipt.pdf"),
    ("POST", "/api/payments/payments", "payments", "/payments"),
    ("GET", f"/api/payments/payments/{ID}", "payments", f"/payments/{ID}"),
    ("POST", "/api/users/users", "users", "/users"),
    ("GET", "/api/users/users/me", "users", "/users/me"),
    ("PATCH", "/api/users/users/me", "users", "/users/me"),
    ("DELETE", "/api/users/users/me", "users", "/users/me"),
    ("POST", "/api/users/users/me/verification-email", "users", "/users/me/verification-email"),
    ("POST", "/api/users/email-verifications", "users", "/email-verifications"),
    ("POST", "/api/users/password-resets", "users", "/password-resets"),
    ("POST", "/api/users/password-resets/confirm", "users", "/password-resets/confirm"),
    # auth: the OAuth endpoints and metadata
    ("GET", "/oauth/authorize?response_type=code", "auth", "/oauth/authorize?response_type=code"),
    ("POST", "/oauth/authorize", "auth", "/oauth/authorize"),
    ("POST", "/oauth/token", "auth", "/oauth/token"),
    ("POST", "/oauth/introspect", "auth", "/oauth/introspect"),
    ("POST", "/oauth/revoke", "auth", "/oauth/revoke"),
    ("GET", "/.well-known/jwks.json", "auth", "/.well-known/jwks.json"),
    ("GET", "/.well-known/oauth-authorization-server", "auth", "/.well-known/oauth-authorization-server"),
]


@pytest.fixture(scope="module")
def public_gateway(tmp_path_factory: pytest.TempPathFactory, upstreams: dict[str, str]) -> Iterator[Gateway]:
    """The real routes.json, and a published OpenAPI document."""
    require_or_skip(nginx_available(), "nginx with the Lua module")
    prefix = tmp_path_factory.mktemp("public")
    document = prefix / "public-openapi.json"
    document.write_text(json.dumps({"openapi": "3.0.3", "paths": {"/api/search/hotels": {}}}))
    gw = Gateway(prefix, upstreams, "--public-openapi", str(document), limits=GENEROUS_LIMITS).start()
    yield gw
    gw.stop()


@pytest.mark.parametrize(("method", "path"), INTERNAL)
def test_internal_and_service_only_operations_are_a_gateway_404(public_gateway: Gateway, problem, method, path):
    response = public_gateway.request(method, path, json={} if method in ("POST", "PATCH") else None)
    # The WAF judges every request first: the spellings that are attacks themselves
    # (`..%2F`, `%2e%2e`, a CR/LF) are refused as attacks; the rest finds nothing.
    expected = 403 if any(trick in path for trick in ("..%2F", "%2e%2e", "%0A")) else 404
    assert response.status_code == expected, response.text
    if method == "HEAD":
        return
    body = problem(response, expected)
    assert body["type"] == ("urn:problem:hotelbook:not-found" if expected == 404
                            else "urn:problem:hotelbook:request-blocked")
    assert "service" not in body  # made by the gateway: no echo app saw it
    assert response.headers["RateLimit-Limit"]  # probes still count against the limit


@pytest.mark.parametrize(("method", "path", "service", "upstream_path"), PUBLIC)
def test_public_operations_reach_their_service(public_gateway: Gateway, method, path, service, upstream_path):
    response = public_gateway.request(method, path)
    assert response.status_code == 200, response.text
    if method == "HEAD":
        return
    echo = response.json()
    assert echo["service"] == service
    assert echo["method"] == method
    assert echo["path"] == upstream_path


@pytest.mark.parametrize("path", ["/metrics", "/readyz", "/openapi.json", "/favicon.ico", "/no-such-page"])
def test_a_browser_gets_the_booking_uis_not_found_page_never_the_hidden_one(public_gateway: Gateway, path):
    response = public_gateway.get(path + "?x=1", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    echo = response.json()  # the echo app stands for booking-ui, which would answer its 404 page
    assert echo["service"] == "booking-ui"
    assert echo["path"] == "/page-not-found"


@pytest.mark.parametrize(("method", "path"), [("POST", "/metrics"), ("GET", "/api/search/metrics"), ("GET", "/api"),
                                              ("GET", "/oauth/metrics"), ("GET", "/.well-known/openapi.json")])
def test_only_page_loads_get_the_not_found_page(public_gateway: Gateway, problem, method, path):
    response = public_gateway.request(method, path, headers={"Accept": "text/html"})
    problem(response, 404)


def test_the_public_openapi_document_is_served_by_the_gateway(public_gateway: Gateway):
    response = public_gateway.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["paths"] == {"/api/search/hotels": {}}
    assert response.headers["X-Request-ID"]


def test_without_a_published_document_it_is_a_404(gateway: Gateway, problem):
    problem(gateway.get("/api/openapi.json"), 404)


def test_a_document_not_written_yet_is_a_404_problem(tmp_path, upstreams, problem):
    gw = Gateway(tmp_path / "gw", upstreams, "--public-openapi", str(tmp_path / "missing.json")).start()
    try:
        problem(gw.get("/api/openapi.json"), 404)
    finally:
        gw.stop()


@pytest.mark.parametrize(("change", "message"), [
    (lambda r: r["services"].update(bank={"prefix": "", "operations": []}), "unknown service 'bank'"),
    (lambda r: r["services"]["search"].update(prefix="/api/users"), "prefix must be '/api/search'"),
    (lambda r: r["services"]["search"]["operations"].append({"methods": ["GET"], "path": "hotels"}),
     "needs methods and a path pattern"),
    (lambda r: r["services"]["search"]["operations"].append({"methods": ["GET"], "path": "/a/{x"}),
     "needs methods and a path pattern"),
    (lambda r: r["services"]["auth"]["operations"].append({"methods": ["GET"], "path": "/metrics"}),
     "/metrics is not routed to auth"),
])
def test_render_refuses_a_broken_allow_list(tmp_path, upstreams, change, message):
    routes = json.loads((NGINX_DIR / "routes.json").read_text())
    change(routes)
    routes_file = tmp_path / "routes.json"
    routes_file.write_text(json.dumps(routes))
    result = render(tmp_path / "gw", 18080, upstreams, "--routes", str(routes_file))
    assert result.returncode != 0
    assert message in result.stderr


def test_the_lua_check_refuses_a_method_it_cannot_use(tmp_path, upstreams):
    routes = json.loads((NGINX_DIR / "routes.json").read_text())
    routes["services"]["search"]["operations"].append({"methods": ["get"], "path": "/x"})
    routes_file = tmp_path / "routes.json"
    routes_file.write_text(json.dumps(routes))
    result = render(tmp_path / "gw", 18080, upstreams, "--routes", str(routes_file), check=True)
    assert result.returncode != 0
    assert "bad method get" in result.stderr


# --- the published document ------------------------------------------------------

SERVICE_DOC = {
    "openapi": "3.0.3",
    "info": {"title": "reservations", "version": "1"},
    "tags": [{"name": "reservations", "description": "Holds"}],
    "paths": {
        "/reservations": {"post": {"tags": ["reservations"], "security": [{"bearerAuth": []}],
                                   "requestBody": {"content": {"application/json": {
                                       "schema": {"$ref": "#/components/schemas/HoldIn"}}}},
                                   "responses": {"201": {"description": "held"}}}},
        "/reservations/{reservation_id}": {
            "parameters": [{"name": "reservation_id", "in": "path", "required": True}],
            "get": {"responses": {"200": {"content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/Reservation"}}}}}}},
        "/reservations/{reservation_id}/confirm": {"post": {"responses": {"200": {"content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/ConfirmIn"}}}}}}},
        "/availability": {"post": {"responses": {"200": {"description": "x"}}}},
        "/metrics": {"get": {"responses": {"200": {"description": "x"}}}},
    },
    "components": {
        "schemas": {
            "HoldIn": {"type": "object", "properties": {"checkin": {"type": "string"}}},
            "Reservation": {"type": "object", "properties": {"total": {"$ref": "#/components/schemas/Money"}}},
            "Money": {"type": "object", "properties": {"amount": {"type": "integer"}}},
            "ConfirmIn": {"type": "object"},
        },
        "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
    },
}
OTHER_DOC = {
    "openapi": "3.0.3",
    "paths": {"/payments": {"post": {"responses": {"201": {"content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Money"}}}}}}}},
    "components": {"schemas": {"Money": {"type": "object", "properties": {"cents": {"type": "integer"}}}}},
}


def test_the_document_keeps_only_public_operations_under_their_public_paths():
    routes = json.loads((NGINX_DIR / "routes.json").read_text())
    document = public_openapi.build(routes, {"reservations": SERVICE_DOC, "payments": OTHER_DOC})
    assert set(document["paths"]) == {"/api/reservations/reservations",
                                      "/api/reservations/reservations/{reservation_id}",
                                      "/api/payments/payments"}
    assert document["paths"]["/api/reservations/reservations/{reservation_id}"]["parameters"]
    schemas = document["components"]["schemas"]
    assert "ConfirmIn" not in schemas  # used only by the service-only confirm
    # two different `Money` (services are taken in name order): each still points at its own
    assert set(schemas) == {"HoldIn", "Reservation", "Money", "ReservationsMoney"}
    assert schemas["Reservation"]["properties"]["total"]["$ref"] == "#/components/schemas/ReservationsMoney"
    assert schemas["ReservationsMoney"]["properties"] == {"amount": {"type": "integer"}}
    payment = document["paths"]["/api/payments/payments"]["post"]
    assert payment["responses"]["201"]["content"]["application/json"]["schema"]["$ref"] == \
        "#/components/schemas/Money"
    assert document["components"]["securitySchemes"] == {"bearerAuth": {"type": "http", "scheme": "bearer"}}
    assert document["tags"] == [{"name": "reservations", "description": "Holds"}]


def test_the_document_is_written_from_files_or_urls(tmp_path: Path):
    source = tmp_path / "reservations.json"
    source.write_text(json.dumps(SERVICE_DOC))
    out = tmp_path / "out" / "public.json"
    assert public_openapi.main(["--out", str(out), "--service", f"reservations={source}"]) == 0
    assert "/api/reservations/reservations" in json.loads(out.read_text())["paths"]
