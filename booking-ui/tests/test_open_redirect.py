"""No open redirect after log-in: ``next`` must stay a same-site path after the normalisation
browsers apply to a Location header (and Werkzeug applies before sending it)."""

from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from conftest import AUTH, USER_ID, USERS, token_answer

from hotelbook_ui.domain import safe_next

HOSTILE = [
    "/\t/evil.example",          # the reported probe: the tab vanishes, "//evil.example" is left
    "/\n/evil.example", "/\r\n/evil.example", "/\r/evil.example",
    "\t//evil.example", " //evil.example", "\x00//evil.example", "\x1f/\\evil.example",
    "//evil.example", "///evil.example", "////evil.example/x",
    "/\\evil.example", "\\/evil.example", "\\\\evil.example", "/\t\\evil.example",
    "https://evil.example", "http:evil.example", "HTTPS://evil.example", "https:/evil.example",
    "javascript:alert(1)", "\tjavascript:alert(1)", "java\tscript:alert(1)", "data:text/html,x",
    "evil.example", "./evil", "//evil.example%2F@x", "/\x0b/evil.example", "/x\x7f",
    "/" + "a" * 2100,
]
KEPT = {
    "/reservations": "/reservations",
    "/hotels/abc?guests=2&checkin=2027-03-01": "/hotels/abc?guests=2&checkin=2027-03-01",
    "/%09/evil.example": "/%09/evil.example",  # a literal "%09" in a path is still our own path
    "/a/\tb": "/a/b",
    "/search?q=a\\b": "/search?q=a\\b",  # a backslash in the query is not a slash to a browser
    " /reservations\n": "/reservations",
}


def browser_target(location: str) -> tuple[str, str]:
    """(scheme, host) a browser would go to for this Location, read the WHATWG way."""
    cleaned = location.strip("".join(chr(c) for c in range(0x21))).translate(str.maketrans("", "", "\t\n\r"))
    cleaned = cleaned.replace("\\", "/")
    parts = urlsplit(cleaned)
    return parts.scheme, parts.netloc


@pytest.mark.parametrize("target", HOSTILE)
def test_hostile_next_falls_back_to_home(target):
    assert safe_next(target) == "/"


@pytest.mark.parametrize("target,expected", sorted(KEPT.items()))
def test_local_paths_are_kept_normalised(target, expected):
    assert safe_next(target) == expected


def _log_in_with_next(client, fake, target):
    response = client.get("/login", params={"next": target}, status=302)
    state = parse_qs(urlsplit(response.headers["Location"]).query)["state"][0]
    fake.replace(responses.POST, f"{AUTH}/oauth/token", json=token_answer())
    fake.replace(responses.GET, f"{USERS}/users/me", json={"id": USER_ID, "email": "ada@example.com",
                                                             "name": "Ada", "email_verified": True})
    return client.get("/auth/callback", params={"code": "the-code", "state": state}, status=302)


@pytest.mark.parametrize("target", HOSTILE)
def test_after_a_genuine_login_hostile_next_ends_at_home(client, fake, target):
    fake.post(f"{AUTH}/oauth/token", json=token_answer())
    fake.get(f"{USERS}/users/me", json={})
    location = _log_in_with_next(client, fake, target).headers["Location"]
    scheme, host = browser_target(location)
    assert (scheme, host) in (("", ""), ("http", "localhost")), location
    assert urlsplit(location).path == "/", location


def test_the_reported_probe_over_the_wire(client, fake):
    """``/login?next=/%09/evil.example`` exactly as the browser sends it."""
    fake.post(f"{AUTH}/oauth/token", json=token_answer())
    fake.get(f"{USERS}/users/me", json={})
    response = client.get("/login?next=/%09/evil.example", status=302)
    state = parse_qs(urlsplit(response.headers["Location"]).query)["state"][0]
    done = client.get("/auth/callback", params={"code": "c", "state": state}, status=302)
    assert "evil.example" not in done.headers["Location"]
    assert browser_target(done.headers["Location"])[1] in ("", "localhost")


def test_a_local_next_survives_the_login(client, fake):
    fake.post(f"{AUTH}/oauth/token", json=token_answer())
    fake.get(f"{USERS}/users/me", json={})
    location = _log_in_with_next(client, fake, "/reservations?page=2").headers["Location"]
    assert urlsplit(location).path == "/reservations" and urlsplit(location).query == "page=2"
