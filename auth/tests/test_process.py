"""auth as it really runs: gunicorn, its own database, a service verifying over HTTP."""

import json

import pytest
import requests

from hotelbook_auth import create_app
from hotelbook_chassis.migrations import upgrade
from hotelbook_chassis.testing import ServiceProcess, new_database_url
from hotelbook_chassis.tokens import JWKSCache, TokenVerifier

ISSUER = "http://issuer.process.test"


@pytest.fixture
def auth_process(tmp_path):
    url, drop = new_database_url(tmp_path, "auth-process")
    env = {"DATABASE_URL": url, "VAR_DIR": str(tmp_path), "OAUTH_ISSUER": ISSUER, "LOG_LEVEL": "WARNING",
           "KEY_ENCRYPTION_KEY": "process-test-key-encryption-key"}
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "OAUTH_ISSUER": ISSUER, "VAR_DIR": str(tmp_path),
                      "KEY_ENCRYPTION_KEY": env["KEY_ENCRYPTION_KEY"]})
    upgrade(app)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["keys", "ensure"]).exit_code == 0
    creds = json.loads(runner.invoke(args=["clients", "create", "--name", "search", "--scopes",
                                           "reservations:availability", "--grants", "client_credentials",
                                           "--client-id", "search"]).output)
    with app.app_context():
        app.extensions["hotelbook_db"].engine.dispose()
    process = ServiceProcess("hotelbook_auth:create_app()", env=env, workers=1, name="auth")
    try:
        process.start()
        yield process, creds
    finally:
        process.stop()
        drop()


def test_real_process_issues_tokens_services_verify(auth_process):
    process, creds = auth_process
    answer = requests.post(f"{process.url}/oauth/token", data={"grant_type": "client_credentials"},
                           auth=(creds["client_id"], creds["client_secret"]), timeout=10)
    assert answer.status_code == 200, answer.text
    verifier = TokenVerifier(JWKSCache.from_url(f"{process.url}/.well-known/jwks.json", service="test"),
                             issuer=ISSUER, audience="reservations")
    claims = verifier.verify(answer.json()["access_token"])
    assert claims["scope"] == "reservations:availability" and claims["sub"] == "search"
    bad = requests.post(f"{process.url}/oauth/token", data="{}", headers={"Content-Type": "application/json"},
                        timeout=10)
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_request"
