"""RFC 7662 introspection and RFC 7009 revocation, both with client authentication."""

from conftest import assert_oauth_error, basic, client_token, exchange

from hotelbook_auth.actions.tokens import access_claims, sign
from hotelbook_chassis.testing import TEST_ISSUER


def _introspect(client, creds, token, status=200, **extra):
    return client.post("/oauth/introspect", {"token": token, **extra},
                       headers=basic(creds["client_id"], creds["client_secret"]), status=status)


def _revoke(client, creds, token, status=200, **extra):
    return client.post("/oauth/revoke", {"token": token, **extra},
                       headers=basic(creds["client_id"], creds["client_secret"]), status=status)


def test_valid_access_token_is_active(client, service_client):
    token = client_token(client, service_client, "users:read").json["access_token"]
    body = _introspect(client, service_client, token).json
    assert body["active"] is True
    assert body["client_id"] == "payments" and body["sub"] == "payments" and body["scope"] == "users:read"
    assert body["aud"] == ["users"] and body["iss"] == TEST_ISSUER and body["exp"] > body["iat"]


def test_expired_access_token_is_inactive(client, clean_db, service_client):
    with clean_db.app_context():
        token = sign(clean_db.extensions["auth_keys"], access_claims(
            issuer=TEST_ISSUER, sub="payments", client_id="payments", scope="users:read", ttl=-5))
    assert _introspect(client, service_client, token).json == {"active": False}


def test_forged_and_foreign_tokens_are_inactive(client, service_client, signing_key):
    from hotelbook_chassis.testing import make_token

    forged = make_token(signing_key, issuer=TEST_ISSUER, aud="users")  # a key auth never published
    assert _introspect(client, service_client, forged).json == {"active": False}
    assert _introspect(client, service_client, "garbage").json == {"active": False}
    assert _introspect(client, service_client, "eyJ.x.y").json == {"active": False}


def test_revoked_access_token_is_inactive(client, service_client):
    token = client_token(client, service_client, "users:read").json["access_token"]
    assert _revoke(client, service_client, token, token_type_hint="access_token").json == {}
    assert _introspect(client, service_client, token).json == {"active": False}
    assert _revoke(client, service_client, token).status_int == 200  # again: still fine


def test_refresh_token_introspection_and_logout(client, ui_client, service_client, login_code):
    code, verifier = login_code()
    tokens = exchange(client, ui_client, code, verifier).json
    body = _introspect(client, ui_client, tokens["refresh_token"], token_type_hint="refresh_token").json
    assert body["active"] is True and body["token_type"] == "refresh_token" and body["scope"] == "guest"
    # only its own client may look at a refresh token
    assert _introspect(client, service_client, tokens["refresh_token"]).json == {"active": False}
    # logout: revoking the refresh token ends the grant, access token included
    _revoke(client, ui_client, tokens["refresh_token"], token_type_hint="refresh_token")
    assert _introspect(client, ui_client, tokens["refresh_token"]).json == {"active": False}
    assert _introspect(client, ui_client, tokens["access_token"]).json == {"active": False}
    refused = client.post("/oauth/token", {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                          headers=basic(ui_client["client_id"], ui_client["client_secret"]), status=400)
    assert_oauth_error(refused, "invalid_grant")


def test_wrong_hint_still_finds_the_token(client, service_client):
    token = client_token(client, service_client, "users:read").json["access_token"]
    assert _introspect(client, service_client, token, token_type_hint="refresh_token").json["active"] is True


def test_unknown_token_revocation_is_200(client, service_client):
    assert _revoke(client, service_client, "never-issued").status_int == 200


def test_another_clients_token_cannot_be_revoked(client, service_client, register):
    other = register("search", "reservations:availability")
    token = client_token(client, service_client, "users:read").json["access_token"]
    assert_oauth_error(_revoke(client, other, token, status=400), "invalid_grant")
    assert _introspect(client, service_client, token).json["active"] is True


def test_both_endpoints_need_client_authentication(client, service_client):
    token = client_token(client, service_client, "users:read").json["access_token"]
    for path in ("/oauth/introspect", "/oauth/revoke"):
        answer = client.post(path, {"token": token}, status=401)
        assert_oauth_error(answer, "invalid_client", 401)
        answer = client.post(path, {"token": token}, headers=basic("payments", "wrong"), status=401)
        assert_oauth_error(answer, "invalid_client", 401)
    assert _introspect(client, service_client, token).json["active"] is True


def test_missing_token_and_bad_hint(client, service_client):
    for path in ("/oauth/introspect", "/oauth/revoke"):
        answer = client.post(path, {}, headers=basic("payments", service_client["client_secret"]), status=400)
        assert_oauth_error(answer, "invalid_request")
        answer = client.post(path, {"token": "x", "token_type_hint": "id_token"},
                             headers=basic("payments", service_client["client_secret"]), status=400)
        assert_oauth_error(answer, "unsupported_token_type")
