"""users as it really runs: gunicorn with two workers, migrated database, real SMTP, production argon2."""


import pytest
import requests

from hotelbook_chassis.migrations import upgrade
from hotelbook_chassis.testing import TEST_ISSUER, PeerServer, ServiceProcess, bearer, json_routes, new_database_url
from hotelbook_users import create_app
from tests.conftest import PASSWORD, link_token


@pytest.fixture
def jwks_server(jwks):
    with PeerServer(json_routes({"/.well-known/jwks.json": jwks})) as peer:
        yield f"{peer.url}/.well-known/jwks.json"


@pytest.fixture
def users_process(tmp_path, jwks_server, smtp_server):
    url, drop = new_database_url(tmp_path, "users-process")
    upgrade(create_app({"SQLALCHEMY_DATABASE_URI": url, "VAR_DIR": str(tmp_path)}))
    env = {"DATABASE_URL": url, "VAR_DIR": str(tmp_path), "JWKS_URL": jwks_server, "OAUTH_ISSUER": TEST_ISSUER,
           "SECRET_KEY": "process-test-secret", "PUBLIC_URL": "http://ui.test", "JSON_LOGS": "0",
           "LOG_LEVEL": "WARNING", "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp_server.port)}
    process = ServiceProcess("hotelbook_users:create_app()", env=env, workers=2, name="users")
    try:
        process.start()
        yield process
    finally:
        process.stop()
        drop()


def test_sign_up_verify_reset_and_log_in_over_http(users_process, smtp_server, token_factory):
    base = users_process.url
    ui = bearer(token_factory("users:create", sub="booking-ui"))
    auth = bearer(token_factory("users:verify", sub="auth"))
    created = requests.post(f"{base}/users", json={"email": "Zoe@Example.test", "name": "Zoë", "password": PASSWORD},
                            headers=ui, timeout=30)
    assert created.status_code == 202, created.text
    # Links signed by one worker are good on every worker; each works once.
    token = link_token(smtp_server.wait_for("zoe@example.test", subject_contains="Verify"), "verify-email")
    answers = [requests.post(f"{base}/email-verifications", json={"token": token}, timeout=30) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 400, 400]
    assert answers[0].json()["email_verified"] is True

    assert requests.post(f"{base}/password-resets", json={"email": "zoe@example.test"}, timeout=30).status_code == 202
    reset = link_token(smtp_server.wait_for("zoe@example.test", subject_contains="Reset"), "reset-password")
    new = "a fresh and long passphrase"
    confirmed = requests.post(f"{base}/password-resets/confirm", json={"token": reset, "password": new}, timeout=30)
    assert confirmed.status_code == 200, confirmed.text

    login = requests.post(f"{base}/credentials/verify", json={"email": "zoe@example.test", "password": new},
                          headers=auth, timeout=30).json()
    assert login["valid"] is True and login["user"]["email"] == "zoe@example.test"
    stale = requests.post(f"{base}/credentials/verify", json={"email": "zoe@example.test", "password": PASSWORD},
                          headers=auth, timeout=30).json()
    assert stale == {"valid": False, "user": None}
    # The openapi document describes the endpoints the contract names.
    paths = requests.get(f"{base}/openapi.json", timeout=30).json()["paths"]
    assert {"/users", "/credentials/verify", "/users/me", "/users/{user_id}", "/email-verifications",
            "/password-resets", "/password-resets/confirm", "/users/me/verification-email"} <= set(paths)
