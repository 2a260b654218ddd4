"""New credentials end every session: users signals auth and booking-ui through an outbox that
survives a peer being down."""

import json
import time
from datetime import datetime, timedelta

import pytest
import requests
import responses

from hotelbook_chassis.client import ClientCredentials, ServiceClient
from hotelbook_users.actions import revocations
from hotelbook_users.models import SessionRevocation, db
from tests.conftest import PASSWORD, link_token

AUTH = "http://auth.test"
UI = "http://ui-service.test"
NEW = "a different long passphrase"


@pytest.fixture
def peers(clean_db):
    """auth and booking-ui faked at the HTTP level; users' own client credentials configured."""
    tokens = ClientCredentials(f"{AUTH}/oauth/token", "users", "users-secret", "sessions:revoke")
    saved = clean_db.extensions["users_revocation_clients"]
    clean_db.extensions["users_revocation_clients"] = {
        "auth": ServiceClient("auth", AUTH, tokens=tokens, retries=0),
        "booking-ui": ServiceClient("booking-ui", UI, tokens=tokens, retries=0)}
    with responses.RequestsMock(assert_all_requests_are_fired=False, passthru_prefixes=("http://127.0.0.1",
                                                                                         "http://localhost")) as mock:
        mock.post(f"{AUTH}/oauth/token", json={"access_token": "users-service-token", "expires_in": 60,
                                               "token_type": "Bearer"})
        mock.post(f"{AUTH}/session-revocations", json={"families_revoked": 1})
        mock.post(f"{UI}/session-revocations", json={"sessions_ended": 1})
        yield mock
    clean_db.extensions["users_revocation_clients"] = saved


def signals(mock, base):
    return [json.loads(call.request.body) for call in mock.calls
            if call.request.url == f"{base}/session-revocations"]


def pending(app):
    with app.app_context():
        return db.session.scalars(db.select(SessionRevocation)).all()


def assert_ended_everywhere(peers, user_id, since):
    for base in (AUTH, UI):
        sent = signals(peers, base)
        assert [s["user_id"] for s in sent] == [user_id], (base, sent)
        assert since - 1 <= sent[0]["not_before"] <= time.time() + 1
    calls = [c for c in peers.calls if c.request.url.endswith("/session-revocations")]
    assert all(c.request.headers["Authorization"] == "Bearer users-service-token" for c in calls)
    token_request = next(c for c in peers.calls if c.request.url == f"{AUTH}/oauth/token").request
    assert "scope=sessions%3Arevoke" in token_request.body  # least privilege: only this scope


def test_a_password_reset_ends_every_session(client, sign_up, smtp_server, peers, clean_db):
    zoe = sign_up()
    client.post_json("/password-resets", {"email": "zoe@example.test"}, status=202)
    token = link_token(smtp_server.wait_for("zoe@example.test", subject_contains="Reset"), "reset-password")
    started = time.time()
    client.post_json("/password-resets/confirm", {"token": token, "password": NEW})
    assert_ended_everywhere(peers, zoe["id"], started)
    assert pending(clean_db) == []


@pytest.mark.parametrize("change", [
    {"password": NEW, "current_password": PASSWORD},
    {"email": "zoe.new@example.test", "current_password": PASSWORD},
])
def test_a_password_or_address_change_ends_every_session(client, sign_up, guest_of, peers, clean_db, change):
    zoe = sign_up()
    started = time.time()
    client.patch_json("/users/me", change, headers=guest_of(zoe))
    assert_ended_everywhere(peers, zoe["id"], started)
    assert pending(clean_db) == []


def test_deleting_the_account_ends_every_session(client, sign_up, guest_of, peers, clean_db):
    zoe = sign_up()
    started = time.time()
    client.delete("/users/me", headers=guest_of(zoe), status=204)
    assert_ended_everywhere(peers, zoe["id"], started)
    assert pending(clean_db) == []


def test_a_name_change_or_a_refused_change_ends_nothing(client, sign_up, guest_of, peers, clean_db):
    zoe = sign_up()
    client.patch_json("/users/me", {"name": "Zoë N."}, headers=guest_of(zoe))
    client.patch_json("/users/me", {"password": NEW, "current_password": "wrong"}, headers=guest_of(zoe), status=400)
    assert signals(peers, AUTH) == signals(peers, UI) == []
    assert pending(clean_db) == []


def test_a_peer_down_delays_the_signal_but_never_loses_it(client, sign_up, guest_of, peers, clean_db):
    zoe = sign_up()
    peers.replace(responses.POST, f"{AUTH}/session-revocations", body=requests.ConnectionError("refused"))
    client.patch_json("/users/me", {"password": NEW, "current_password": PASSWORD}, headers=guest_of(zoe))
    assert len(signals(peers, UI)) == 1  # booking-ui got it at once
    left = pending(clean_db)
    assert [(r.peer, r.user_id, r.attempts) for r in left] == [("auth", zoe["id"], 1)]
    # Not due yet: a round now sends nothing.
    with clean_db.app_context():
        assert revocations.deliver() == {"delivered": 0, "pending": 0}
    # auth answers an error, then comes back; the worker's rounds (run here by hand) converge.
    peers.replace(responses.POST, f"{AUTH}/session-revocations", status=503, json={"status": 503})
    with clean_db.app_context():
        db.session.execute(db.update(SessionRevocation).values(next_attempt_at=datetime(2000, 1, 1)))
        db.session.commit()
        assert revocations.deliver() == {"delivered": 0, "pending": 1}
        row = db.session.scalars(db.select(SessionRevocation)).one()
        assert row.attempts == 2 and row.next_attempt_at > datetime.utcnow() + timedelta(seconds=3)
        row.next_attempt_at = datetime(2000, 1, 1)
        db.session.commit()
    peers.replace(responses.POST, f"{AUTH}/session-revocations", json={"families_revoked": 1})
    with clean_db.app_context():
        assert revocations.deliver() == {"delivered": 1, "pending": 0}
    assert pending(clean_db) == []
    assert [s["user_id"] for s in signals(peers, AUTH)][-1] == zoe["id"]


def test_without_credentials_the_signal_waits_in_the_outbox(client, sign_up, guest_of, clean_db):
    zoe = sign_up()
    client.delete("/users/me", headers=guest_of(zoe), status=204)
    assert sorted(r.peer for r in pending(clean_db)) == ["auth", "booking-ui"]


def test_backoff_grows_and_is_capped():
    assert [revocations.backoff(n) for n in (1, 2, 3)] == [2, 4, 8]
    assert revocations.backoff(30) == 300
