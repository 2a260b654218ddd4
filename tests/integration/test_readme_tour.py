"""The README's tour, request by request, against the running system and its demo catalogue.

The requests are read from the README itself (its ``## A tour with curl`` block), the
ports of ``make up`` mapped to the test system's. Every request needs an expected answer
here, so an example added to the tour without one fails, and so does an example whose
answer the demo data no longer gives.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from hotelbook_chassis.config import PORTS
from hotelbook_stack import bootstrap as steps

README = Path(__file__).resolve().parents[2] / "README.md"
PROBLEM = "application/problem+json"
# As the tour's shell computes them: a month from today, two nights.
VARIABLES = {"CHECKIN": (date.today() + timedelta(days=30)).isoformat(),
             "CHECKOUT": (date.today() + timedelta(days=32)).isoformat()}


def tour_commands() -> list[str]:
    """The shell commands of the tour, continuation lines joined, comments dropped."""
    text = README.read_text()
    block = text.split("## A tour with curl", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    commands = []
    for line in block.replace("\\\n", " ").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            commands.append(line)
    return commands


def curl_requests() -> list[tuple[str, str, dict[str, str]]]:
    """``(process, path with query, form fields)`` of every curl in the tour, its variables filled in."""
    by_port = {port: name for name, port in PORTS.items()}
    found = []
    for command in tour_commands():
        for segment in command.split("|"):
            if "curl " not in segment:
                continue
            url = re.search(r"http://127\.0\.0\.1:(\d+)([^\s\"')]*)", segment)
            assert url, f"a curl without a local URL in the tour: {segment}"
            path = re.sub(r"\$(\w+)", lambda m: VARIABLES[m.group(1)], url.group(2))
            form = dict(field.split("=", 1) for field in re.findall(r"-d (\S+)", segment))
            found.append((by_port[int(url.group(1))], path, form))
    return found


def test_the_tour_is_read_from_the_readme() -> None:
    assert [(name, urlsplit(path).path) for name, path, _ in curl_requests()] == [
        ("gateway", "/oauth/token"),
        ("gateway", "/api/search/hotels"),
        ("gateway", "/api/search/hotels"),
        ("gateway", "/api/search/hotels"),
        ("gateway", "/api/openapi.json"),
        ("gateway", "/api/search/metrics"),
        ("search", "/openapi.json"),
    ]
    assert any(command.startswith("make client NAME=tour") for command in tour_commands())


# --- what each request of the tour answers -------------------------------------------


def token(answer: requests.Response) -> None:
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["token_type"].lower() == "bearer"
    assert body["scope"] == "search:write"
    assert body["access_token"].count(".") == 2  # a JWT


def london_for_two_nights(answer: requests.Response) -> None:
    assert answer.status_code == 200, answer.text
    items = answer.json()["items"]
    assert 1 <= len(items) <= 3, "the demo catalogue has hotels in London"
    for item in items:
        assert item["city"] == "London"
        assert "available" in item
        assert isinstance(item["stay_price"]["amount"], int) and item["stay_price"]["currency"] == "EUR"


def montreal(answer: requests.Response) -> None:
    assert answer.status_code == 200, answer.text
    assert "Montréal" in [item["city"] for item in answer.json()["items"]]


def problem_with_request_id(answer: requests.Response) -> None:
    assert 400 <= answer.status_code < 500
    assert answer.headers["Content-Type"] == PROBLEM
    body = answer.json()
    assert {"type", "title", "status", "detail", "request_id"} <= set(body)
    assert body["request_id"] == answer.headers["X-Request-ID"]


def public_api_document(answer: requests.Response) -> None:
    assert answer.status_code == 200
    paths = answer.json()["paths"]
    assert "/api/search/hotels" in paths and "/api/payments/payments" in paths
    assert not [path for path in paths if path.endswith(("/metrics", "/readyz"))]


def hidden_at_the_gateway(answer: requests.Response) -> None:
    assert answer.status_code == 404
    assert answer.headers["Content-Type"] == PROBLEM
    assert answer.json()["title"]


def search_document_on_its_own_port(answer: requests.Response) -> None:
    assert answer.status_code == 200
    assert "/hotels" in answer.json()["paths"]


EXPECTED: dict[tuple[str, str], Callable[[requests.Response], None]] = {
    ("gateway", "/oauth/token"): token,
    ("gateway", "/api/search/hotels?city=london&checkin={CHECKIN}&checkout={CHECKOUT}&guests=2&limit=3"):
        london_for_two_nights,
    ("gateway", "/api/search/hotels?city=montreal"): montreal,
    ("gateway", "/api/search/hotels?city=london&limit=0"): problem_with_request_id,
    ("gateway", "/api/openapi.json"): public_api_document,
    ("gateway", "/api/search/metrics"): hidden_at_the_gateway,
    ("search", "/openapi.json"): search_document_on_its_own_port,
}


@pytest.mark.parametrize(("target", "path", "form"), curl_requests(),
                         ids=[f"{name}{path}" for name, path, _ in curl_requests()])
def test_each_example_of_the_tour_answers_as_the_readme_says(stack, target: str, path: str,
                                                             form: dict[str, str]) -> None:
    expected = {(name, template.format(**VARIABLES)): check for (name, template), check in EXPECTED.items()}
    assert (target, path) in expected, f"no expected answer for the tour's request {target} {path}: add one here"
    url = stack.gateway_url if target == "gateway" else stack.url(target)
    if form:
        # `make client NAME=tour SCOPES="search:write" GRANTS="client_credentials"`, then ask for the token.
        client = steps.register_client(stack.layout, "tour", "client_credentials", "search:write")
        answer = requests.post(url + path, data=form, auth=(client["client_id"], client["client_secret"]),
                               timeout=30)
    else:
        answer = requests.get(url + path, timeout=30)
    expected[(target, path)](answer)
