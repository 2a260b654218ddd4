import base64
import hashlib
import json
import secrets
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from hotelbook_auth import create_app
from hotelbook_auth.actions import keys
from hotelbook_chassis.testing import TEST_ISSUER
from hotelbook_chassis.tokens import JWKSCache, TokenVerifier

USERS_URL = "http://users.test"
REDIRECT_URI = "http://127.0.0.1:8080/auth/callback"
SIGNUP_URI = "http://127.0.0.1:8080/signup"
RESET_URI = "http://127.0.0.1:8080/forgot-password"
GUEST = {"id": "5a1c7c5e-59a7-4a39-8b8f-0c2ad1f2b0a1", "email": "zoe@example.test", "name": "Zoë",
         "email_verified": False}
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session")
def service_name():
    return "auth"


@pytest.fixture(scope="session")
def app(service_config):
    return create_app({**service_config, "USERS_URL": USERS_URL, "ACCESS_TOKEN_TTL": 300,
                       "KEY_ENCRYPTION_KEY": "test-key-encryption-key"})


@pytest.fixture
def active_kid(clean_db):
    with clean_db.app_context():
        kid, _ = keys.ensure()
    return kid


@pytest.fixture
def cli(clean_db):
    """Run ``flask --app hotelbook_auth ...`` against the test app; JSON output parsed when it is JSON."""
    runner = clean_db.test_cli_runner()

    def run(*args, ok=True):
        result = runner.invoke(args=list(args))
        if ok:
            assert result.exit_code == 0, result.output
        return result

    return run


@pytest.fixture
def register(cli):
    def register(client_id, scopes, grants="client_credentials", *, redirect_uris=(), public=False, name=None,
                 **options):
        args = ["clients", "create", "--name", name or client_id, "--scopes", scopes, "--grants", grants,
                "--client-id", client_id]
        for option, value in options.items():  # display_name="Hotelbook" -> --display-name Hotelbook
            args += ["--" + option.replace("_", "-"), value]
        for uri in redirect_uris:
            args += ["--redirect-uri", uri]
        if public:
            args.append("--public")
        return json.loads(cli(*args).output.strip().splitlines()[-1])

    return register


def basic(client_id, secret):
    raw = f"{client_id}:{secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


@pytest.fixture
def service_client(register, active_kid):
    return register("payments", "reservations:read reservations:confirm users:read pdf:render")


@pytest.fixture
def ui_client(register, active_kid):
    return register("booking-ui", "guest users:create", "authorization_code refresh_token client_credentials",
                    redirect_uris=[REDIRECT_URI], display_name="Hotelbook", signup_uri=SIGNUP_URI,
                    password_reset_uri=RESET_URI)


def client_token(client, creds, scope=None, status=200):
    form = {"grant_type": "client_credentials"}
    if scope is not None:
        form["scope"] = scope
    return client.post("/oauth/token", form, headers=basic(creds["client_id"], creds["client_secret"]),
                       status=status)


@pytest.fixture
def jwks_fetches():
    return []


@pytest.fixture
def verifier_for(client, jwks_fetches):
    """A chassis TokenVerifier for ``audience`` reading auth's published JWKS (fetches counted)."""

    def fetch():
        jwks_fetches.append(1)
        return client.get("/.well-known/jwks.json").json

    def make(audience, **kwargs):
        kwargs.setdefault("min_refetch_seconds", 0)
        return TokenVerifier(JWKSCache(fetch, **kwargs), issuer=TEST_ISSUER, audience=audience)

    return make


@pytest.fixture
def users_api():
    """users faked at the HTTP level; ``users_api.calls`` keeps what auth sent."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def fake_users_verify(users_api, *, password=PASSWORD, user=GUEST):
    def answer(request):
        body = json.loads(request.body)
        if body["email"] == user["email"] and body["password"] == password:
            return 200, {}, json.dumps({"valid": True, "user": user})
        return 200, {}, json.dumps({"valid": False, "user": None})

    users_api.add_callback(responses.POST, f"{USERS_URL}/credentials/verify", callback=answer,
                           content_type="application/json")


def pkce_pair():
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize_params(client_id="booking-ui", challenge=None, **overrides):
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT_URI, "scope": "guest",
              "state": "st-" + secrets.token_hex(4), "code_challenge": challenge or pkce_pair()[1],
              "code_challenge_method": "S256"}
    params.update(overrides)
    return {name: value for name, value in params.items() if value is not None}


def log_in(client, params, email=GUEST["email"], password=PASSWORD, status=302):
    page = client.get("/oauth/authorize", params, status=200)
    form = page.forms[0]
    form["email"] = email
    form["password"] = password
    return form.submit(status=status)


def query_of(location):
    return {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}


@pytest.fixture
def login_code(client, ui_client, users_api):
    """Log the guest in; returns (code, verifier)."""
    fake_users_verify(users_api)

    def run(scope="guest"):
        verifier, challenge = pkce_pair()
        params = authorize_params(challenge=challenge, scope=scope)
        answer = log_in(client, params)
        query = query_of(answer.headers["Location"])
        assert query["state"] == params["state"]
        return query["code"], verifier

    return run


def exchange(client, creds, code, verifier, status=200, redirect_uri=REDIRECT_URI):
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    if verifier is not None:
        form["code_verifier"] = verifier
    return client.post("/oauth/token", form, headers=basic(creds["client_id"], creds["client_secret"]),
                       status=status)


def refresh(client, creds, token, status=200, **extra):
    return client.post("/oauth/token", {"grant_type": "refresh_token", "refresh_token": token, **extra},
                       headers=basic(creds["client_id"], creds["client_secret"]), status=status)


def assert_oauth_error(response, error, status=None):
    if status is not None:
        assert response.status_int == status
    assert response.content_type == "application/json"
    body = response.json
    assert body["error"] == error, body
    assert body.get("error_description"), body
    return body
