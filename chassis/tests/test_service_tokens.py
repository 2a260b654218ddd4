"""The service token source: a client_credentials grant through Authlib, cached, refreshed, shared by threads."""

import base64
import threading
import types
from urllib.parse import parse_qs

import pytest
import requests
import responses

from hotelbook_chassis import client as client_module
from hotelbook_chassis.client import ClientCredentials, PeerUnavailable, ServiceClient

TOKEN_URL = "http://auth.test/oauth/token"
PEER = "http://peer.test"


@pytest.fixture
def fake():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def clock(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(client_module, "time", types.SimpleNamespace(monotonic=lambda: now[0]))
    return now


def answer(fake, access=None, expires_in=300):
    body = {"access_token": access or "service-token", "token_type": "Bearer", "expires_in": expires_in}
    fake.post(TOKEN_URL, json=body)


def token_calls(fake):
    return [call.request for call in fake.calls if call.request.url == TOKEN_URL]


def credentials(scope="users:create payments:charge"):
    return ClientCredentials(TOKEN_URL, "svc", "svc-secret", scope)


def test_the_grant_sends_the_scope_and_basic_client_authentication(fake):
    answer(fake)
    assert credentials().token() == "service-token"
    [sent] = token_calls(fake)
    assert parse_qs(sent.body) == {"grant_type": ["client_credentials"], "scope": ["users:create payments:charge"]}
    assert sent.headers["Authorization"] == "Basic " + base64.b64encode(b"svc:svc-secret").decode()
    assert sent.headers["Content-Type"].startswith("application/x-www-form-urlencoded")


def test_the_token_is_cached_and_fetched_again_shortly_before_it_expires(fake, clock):
    answer(fake, "first", expires_in=300)
    tokens = credentials()
    assert tokens.token() == "first"
    clock[0] += 269  # 300 s minus the 30 s margin not yet reached
    assert tokens.token() == "first"
    assert len(token_calls(fake)) == 1
    fake.replace(responses.POST, TOKEN_URL, json={"access_token": "second", "token_type": "Bearer", "expires_in": 300})
    clock[0] += 2
    assert tokens.token() == "second"
    assert len(token_calls(fake)) == 2


def test_a_short_lived_token_is_kept_half_its_life(fake, clock):
    answer(fake, "short", expires_in=20)
    tokens = credentials()
    tokens.token()
    clock[0] += 9
    tokens.token()
    assert len(token_calls(fake)) == 1
    clock[0] += 2
    tokens.token()
    assert len(token_calls(fake)) == 2


def test_invalidate_fetches_a_new_token(fake):
    answer(fake)
    tokens = credentials()
    tokens.token()
    tokens.invalidate()
    tokens.token()
    assert len(token_calls(fake)) == 2


@pytest.mark.parametrize("status", [400, 401, 500, 503])
def test_a_refused_grant_is_peer_unavailable(fake, status):
    fake.post(TOKEN_URL, status=status, json={"error": "invalid_client"})
    with pytest.raises(PeerUnavailable) as raised:
        credentials().token()
    assert raised.value.status == 503 and raised.value.peer == "auth"


@pytest.mark.parametrize("body", [{"error": "invalid_scope"}, {"token_type": "Bearer"}, ["not", "an", "object"]])
def test_a_200_without_a_token_is_peer_unavailable(fake, body):
    fake.post(TOKEN_URL, json=body)
    with pytest.raises(PeerUnavailable):
        credentials().token()


def test_auth_down_is_503_and_slow_auth_is_504(fake):
    fake.post(TOKEN_URL, body=requests.ConnectionError("refused"))
    with pytest.raises(PeerUnavailable) as down:
        credentials().token()
    assert down.value.status == 503
    fake.replace(responses.POST, TOKEN_URL, body=requests.ReadTimeout("slow"))
    with pytest.raises(PeerUnavailable) as slow:
        credentials().token()
    assert slow.value.status == 504


def test_the_timeouts_are_passed_to_the_token_request(monkeypatch):
    seen = {}

    def send(self, request, **kwargs):
        seen["timeout"] = kwargs.get("timeout")
        raise requests.ConnectionError("not sent")

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", send)
    tokens = ClientCredentials(TOKEN_URL, "svc", "svc-secret", "x", timeout=(1.5, 4))
    with pytest.raises(PeerUnavailable):
        tokens.token()
    assert seen["timeout"] == (1.5, 4)


def test_threads_sharing_the_source_cause_one_fetch(fake):
    answer(fake)
    tokens = credentials()
    start = threading.Barrier(8)
    got = []

    def work():
        start.wait()
        got.append(tokens.token())

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert got == ["service-token"] * 8
    assert len(token_calls(fake)) == 1


def test_a_peer_401_refetches_the_token_once(fake):
    answer(fake, "old")
    tokens = credentials()
    peer = ServiceClient("peer", PEER, tokens=tokens, retries=0)
    fake.get(f"{PEER}/thing", status=401)
    fake.get(f"{PEER}/thing", json={"ok": True})
    tokens.token()
    fake.replace(responses.POST, TOKEN_URL, json={"access_token": "new", "token_type": "Bearer", "expires_in": 300})
    assert peer.get("/thing").status_code == 200
    sent = [call.request.headers["Authorization"] for call in fake.calls if call.request.url == f"{PEER}/thing"]
    assert sent == ["Bearer old", "Bearer new"]
