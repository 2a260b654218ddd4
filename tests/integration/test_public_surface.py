"""What the outside sees through the real gateway in front of the real services: the
public operations of nginx/routes.json, one published OpenAPI document of them, and
nothing internal (the operators still reach metrics and readiness on the service ports)."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest
import requests

ROUTES = json.loads((Path(__file__).resolve().parents[2] / "nginx" / "routes.json").read_text())
ID = str(uuid.uuid4())


PREFIXES = {"search": "/api/search", "reservations": "/api/reservations", "payments": "/api/payments",
            "users": "/api/users", "booking-ui": "", "auth": "/oauth"}
OPERATOR_ENDPOINTS = [(service, prefix, path) for service, prefix in PREFIXES.items()
                      for path in ("/metrics", "/readyz", "/healthz", "/openapi.json")
                      # booking-ui's /healthz stays public: the gateway's own health probe
                      if (service, path) != ("booking-ui", "/healthz")]


@pytest.mark.parametrize(("service", "prefix", "path"), OPERATOR_ENDPOINTS)
def test_operator_endpoints_are_hidden_at_the_gateway_but_answer_on_the_service_port(stack, service, prefix,
                                                                                     path):
    hidden = requests.get(f"{stack.gateway_url}{prefix}{path}", timeout=10)
    assert hidden.status_code == 404
    assert hidden.headers["Content-Type"] == "application/problem+json"
    assert hidden.json()["type"] == "urn:problem:hotelbook:not-found"
    assert requests.get(f"{stack.url(service)}{path}", timeout=10).status_code == 200


@pytest.mark.parametrize(("method", "path", "scope"), [
    ("POST", "/api/reservations/availability", "reservations:availability"),
    ("POST", f"/api/reservations/reservations/{ID}/confirm", "reservations:confirm"),
    ("POST", f"/api/payments/payments/{ID}/refund", "payments:refund"),
    ("POST", "/api/users/credentials/verify", "users:verify"),
    ("GET", f"/api/users/users/{ID}", "users:read"),
    ("POST", "/api/search/hotels", "search:write"),
])
def test_service_only_endpoints_are_a_404_even_with_a_token_that_has_the_scope(stack, method, path, scope):
    # A token of the service that may call it: scope alone is not what hides it.
    owner = {"reservations:availability": "search", "reservations:confirm": "payments",
             "payments:refund": "reservations", "users:verify": "auth", "users:read": "payments",
             "search:write": "catalogue-admin"}[scope]
    headers = {}
    if stack.layout.client_credentials(owner):
        headers["Authorization"] = f"Bearer {stack.token(owner, scope)}"
    # A body only where the method takes one: the WAF refuses a GET with a body (CRS 920170) before routing.
    body = None if method in ("GET", "HEAD", "DELETE") else {}
    response = requests.request(method, f"{stack.gateway_url}{path}", json=body, headers=headers, timeout=10)
    assert response.status_code == 404, response.text
    assert response.json()["type"] == "urn:problem:hotelbook:not-found"


def test_the_public_openapi_document_lists_exactly_the_public_api_operations(stack):
    response = requests.get(f"{stack.gateway_url}/api/openapi.json", timeout=10)
    assert response.status_code == 200
    document = response.json()
    published = {(method.upper(), path) for path, item in document["paths"].items()
                 for method in item if method in ("get", "post", "put", "patch", "delete")}
    assert ("GET", "/api/search/hotels") in published
    assert ("POST", "/api/payments/payments") in published
    assert ("POST", "/oauth/token") in published
    assert ("GET", "/suggest/cities") in published  # the booking UI's one JSON endpoint

    def shape(path: str) -> str:
        return re.sub(r"\{[^}]*\}", "{}", path)

    allowed = {(method, shape(entry["prefix"] + op["path"]))
               for entry in ROUTES["services"].values() for op in entry["operations"] for method in op["methods"]}
    # nothing but allowed operations...
    assert {(m, shape(p)) for m, p in published} <= allowed
    # ...and every allowed JSON operation is in some service's own document (no stale entries):
    # only HTML pages, static files and the login form (with its stylesheet) are not.
    missing = allowed - {(m, shape(p)) for m, p in published}
    api_missing = {(m, p) for m, p in missing if p.startswith("/api/") or p.startswith("/.well-known/")
                   or (p.startswith("/oauth/") and p != "/oauth/authorize" and not p.startswith("/oauth/theme/"))}
    assert api_missing == set()
    text = response.text
    for internal in ("/metrics", "/readyz", "/healthz", "/availability", "/reservations/{reservation_id}/confirm",
                     "/refund", "/credentials/verify"):
        assert internal not in text
    assert "/api/users/users/{" not in text


def test_a_browser_asking_for_a_hidden_page_gets_the_friendly_not_found_page(stack):
    response = requests.get(f"{stack.gateway_url}/metrics", headers={"Accept": "text/html"}, timeout=10)
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("text/html")
    assert "Page not found" in response.text
    assert "# HELP" not in response.text  # booking-ui never saw /metrics
