import json

from conftest import basic, client_token
from sqlalchemy import select

from hotelbook_auth.models import Client, db


def test_create_prints_credentials_and_stores_only_a_hash(cli, clean_db, active_kid):
    output = cli("clients", "create", "--name", "Search", "--scopes", "reservations:availability",
                 "--grants", "client_credentials").output
    creds = json.loads(output)
    assert set(creds) == {"client_id", "client_secret"} and len(creds["client_secret"]) >= 43
    with clean_db.app_context():
        stored = db.session.get(Client, creds["client_id"])
        assert stored.secret_hash.startswith("sha256$") and creds["client_secret"] not in stored.secret_hash


def test_reregistering_with_client_id_replaces_secret_and_settings(client, cli, register, active_kid):
    first = register("search", "reservations:availability")
    second = register("search", "users:read")
    assert first["client_id"] == second["client_id"] == "search"
    assert first["client_secret"] != second["client_secret"]
    client_token(client, first, status=401)
    assert client_token(client, second).json["scope"] == "users:read"
    listed = [json.loads(line) for line in cli("clients", "list").output.splitlines()]
    assert [entry["client_id"] for entry in listed] == ["search"] and "secret" not in str(listed)


def test_public_client_has_no_secret(register, clean_db, active_kid):
    creds = register("spa", "guest", "authorization_code refresh_token", redirect_uris=["http://x.test/cb"],
                     public=True)
    assert creds == {"client_id": "spa"}
    with clean_db.app_context():
        assert db.session.get(Client, "spa").secret_hash is None


def test_policy_errors_exit_non_zero(cli, clean_db):
    for args in (["--scopes", "admin", "--grants", "client_credentials"],
                 ["--scopes", "guest", "--grants", "password"],
                 ["--scopes", "guest", "--grants", "authorization_code"]):
        result = cli("clients", "create", "--name", "x", *args, ok=False)
        assert result.exit_code != 0 and "Error" in result.output
    with clean_db.app_context():
        assert db.session.execute(select(Client)).first() is None


def test_page_links_must_be_on_the_origin_of_a_redirect_uri(cli, clean_db):
    base = ["clients", "create", "--name", "x", "--scopes", "guest", "--grants", "authorization_code",
            "--redirect-uri", "https://hotels.example/auth/callback"]
    for option, uri in (("--signup-uri", "https://evil.example/signup"),
                        ("--password-reset-uri", "javascript:alert(1)"),
                        ("--signup-uri", "http://hotels.example/signup"),  # another scheme: another origin
                        ("--signup-uri", "https://hotels.example/signup#x")):
        result = cli(*base, option, uri, ok=False)
        assert result.exit_code != 0 and "page URI" in result.output
    result = cli(*base, "--display-name", "", ok=False)
    assert result.exit_code != 0
    with clean_db.app_context():
        assert db.session.execute(select(Client)).first() is None


def test_display_name_and_pages_are_listed(cli, register, clean_db):
    register("ui", "guest", "authorization_code", redirect_uris=["https://hotels.example/auth/callback"],
             display_name="Hotelbook", signup_uri="https://hotels.example/signup",
             password_reset_uri="https://hotels.example/forgot-password")
    listed = json.loads(cli("clients", "list").output)
    assert listed["name"] == "ui" and listed["display_name"] == "Hotelbook"
    assert listed["signup_uri"] == "https://hotels.example/signup"
    assert listed["password_reset_uri"] == "https://hotels.example/forgot-password"


def test_basic_credentials_are_url_decoded(client, register, active_kid):
    # RFC 6749 2.3.1: client_id and secret are form-urlencoded inside Basic
    creds = register("a:b+c", "users:read")
    from urllib.parse import quote

    answer = client.post("/oauth/token", {"grant_type": "client_credentials"},
                         headers=basic(quote(creds["client_id"], safe=""), creds["client_secret"]))
    assert answer.json["scope"] == "users:read"


def test_purge_drops_only_long_expired_rows(client, cli, clean_db, ui_client, login_code):
    from conftest import exchange
    from sqlalchemy import update

    from hotelbook_auth.models import AuthorizationCode, RefreshToken

    code, verifier = login_code()
    exchange(client, ui_client, code, verifier)
    login_code()
    assert json.loads(cli("tokens", "purge").output) == {
        "authorization_codes": 0, "refresh_tokens": 0, "revoked_access_tokens": 0, "login_throttles": 0}
    with clean_db.app_context():
        db.session.execute(update(AuthorizationCode).values(expires_at=0))
        db.session.execute(update(RefreshToken).values(expires_at=0))
        db.session.commit()
    assert json.loads(cli("tokens", "purge").output) == {
        "authorization_codes": 2, "refresh_tokens": 1, "revoked_access_tokens": 0, "login_throttles": 0}


def test_describe_sets_what_the_login_page_shows_and_keeps_the_secret(cli, register, client, clean_db, active_kid):
    creds = register("ui", "guest users:create", "authorization_code client_credentials",
                     redirect_uris=["https://hotels.example/auth/callback"])
    done = cli("clients", "describe", "--client-id", "ui", "--display-name", "Hotelbook",
               "--signup-uri", "https://hotels.example/signup")
    assert json.loads(done.output)["display_name"] == "Hotelbook"
    client_token(client, creds)  # the secret still works
    listed = json.loads(cli("clients", "list").output)
    assert listed["display_name"] == "Hotelbook" and listed["signup_uri"] == "https://hotels.example/signup"
    assert listed["password_reset_uri"] is None
    refused = cli("clients", "describe", "--client-id", "ui", "--signup-uri", "https://evil.example/x", ok=False)
    assert refused.exit_code != 0 and "page URI" in refused.output
    assert cli("clients", "describe", "--client-id", "nobody", ok=False).exit_code != 0
