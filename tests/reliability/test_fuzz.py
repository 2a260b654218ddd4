"""Schemathesis against every service's own /openapi.json, with valid tokens.

No input may produce a 5xx, and every answer must match the schema the service
publishes (problem+json included).
"""

from __future__ import annotations

import subprocess
import sys

import pytest
import requests

from hotelbook_stack.bootstrap import register_client

SERVICE_SCOPES = ("users:create users:read search:write reservations:availability reservations:read "
                  "reservations:confirm payments:refund payments:read pdf:render")
FUZZED = ("search", "reservations", "payments", "users", "pdf-reporting", "auth", "booking-ui", "bank")


@pytest.fixture(scope="module")
def fuzz_token(stack):
    credentials = register_client(stack.layout, "fuzzer", "client_credentials", SERVICE_SCOPES)
    response = requests.post(f"{stack.url('auth')}/oauth/token", auth=(credentials["client_id"],
                             credentials["client_secret"]), data={"grant_type": "client_credentials",
                             "scope": SERVICE_SCOPES}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def schemathesis(base_url: str, token: str, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "schemathesis.cli", "run", f"{base_url}/openapi.json",
               "--checks", "not_a_server_error,response_schema_conformance",
               "--max-examples", "15", "--max-time", "20", "--seed", "20261123",
               "--phases", "examples,coverage,fuzzing", "--request-timeout", "10",
               "--header", f"Authorization: Bearer {token}", "--warnings", "off", *extra]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.parametrize("service", FUZZED)
def test_no_server_error_and_schema_conformance(stack, fuzz_token, service):
    spec = requests.get(f"{stack.url(service)}/openapi.json", timeout=10)
    assert spec.status_code == 200
    if not spec.json().get("paths"):
        pytest.fail(f"{service} publishes no operations")
    result = schemathesis(stack.url(service), fuzz_token)
    assert result.returncode == 0, result.stdout[-6000:]


@pytest.mark.parametrize("service", ("reservations", "payments", "users"))
def test_guest_endpoints_with_a_guest_token(stack, guests, service):
    guest_paths = "^/(reservations|payments|users/me)"
    token = guests[0].headers["Authorization"].split()[1]  # fresh
    result = schemathesis(stack.url(service), token, "--include-path-regex", guest_paths)
    assert result.returncode == 0, result.stdout[-6000:]
