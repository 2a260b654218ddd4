"""authorization_code + PKCE (S256 required), as the booking UI uses it for a guest."""

from conftest import (
    GUEST,
    REDIRECT_URI,
    assert_oauth_error,
    authorize_params,
    basic,
    exchange,
    fake_users_verify,
    log_in,
    pkce_pair,
    query_of,
)
from sqlalchemy import update

from hotelbook_auth.models import AuthorizationCode, db


def test_code_flow_gives_a_guest_token_and_a_refresh_token(client, ui_client, login_code, verifier_for):
    code, verifier = login_code()
    answer = exchange(client, ui_client, code, verifier).json
    assert answer["scope"] == "guest" and answer["expires_in"] == 300 and answer["refresh_token"]
    claims = verifier_for("reservations").verify(answer["access_token"])
    assert claims["sub"] == GUEST["id"] and claims["client_id"] == "booking-ui"
    assert claims["aud"] == ["payments", "reservations", "users"]
    for service in ("payments", "users"):
        verifier_for(service).verify(answer["access_token"])


def test_token_response_is_not_cached(client, ui_client, login_code):
    code, verifier = login_code()
    answer = exchange(client, ui_client, code, verifier)
    assert answer.headers["Cache-Control"] == "no-store"


def test_missing_verifier_is_invalid_request(client, ui_client, login_code):
    code, _ = login_code()
    assert_oauth_error(exchange(client, ui_client, code, None, status=400), "invalid_request")


def test_wrong_verifier_is_invalid_grant_and_spends_the_code(client, ui_client, login_code):
    code, verifier = login_code()
    other, _ = pkce_pair()
    assert_oauth_error(exchange(client, ui_client, code, other, status=400), "invalid_grant")
    assert_oauth_error(exchange(client, ui_client, code, verifier, status=400), "invalid_grant")


def test_missing_challenge_is_refused_with_an_error_redirect(client, ui_client, users_api):
    params = authorize_params(code_challenge=None, code_challenge_method=None)
    answer = client.get("/oauth/authorize", params, status=302)
    query = query_of(answer.headers["Location"])
    assert answer.headers["Location"].startswith(REDIRECT_URI)
    assert query["error"] == "invalid_request" and query["state"] == params["state"]


def test_plain_method_is_refused(client, ui_client):
    verifier, _ = pkce_pair()
    for method in ("plain", None):  # no method means plain (RFC 7636 4.3): refused too
        params = authorize_params(challenge=verifier, code_challenge_method=method)
        query = query_of(client.get("/oauth/authorize", params, status=302).headers["Location"])
        assert query["error"] == "invalid_request"
        assert "S256" in query["error_description"]


def test_public_clients_need_pkce_too(client, register, active_kid, users_api):
    register("spa", "guest", "authorization_code refresh_token", redirect_uris=[REDIRECT_URI], public=True)
    fake_users_verify(users_api)
    verifier, challenge = pkce_pair()
    params = authorize_params("spa", challenge=challenge)
    code = query_of(log_in(client, params).headers["Location"])["code"]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "client_id": "spa"}
    assert_oauth_error(client.post("/oauth/token", form, status=400), "invalid_request")
    code = query_of(log_in(client, authorize_params("spa", challenge=challenge)).headers["Location"])["code"]
    answer = client.post("/oauth/token", {**form, "code": code, "code_verifier": verifier}).json
    assert answer["access_token"] and answer["refresh_token"]


def test_redirect_uri_mismatch_is_shown_not_redirected(client, ui_client):
    for uri in ("http://evil.test/auth/callback", REDIRECT_URI + "/", REDIRECT_URI + "?x=1",
                "http://127.0.0.1:8080/auth/callbacks"):
        page = client.get("/oauth/authorize", authorize_params(redirect_uri=uri), status=400)
        assert page.content_type == "text/html"
        assert "Location" not in page.headers
        assert "not valid" in page.text


def test_unknown_client_is_shown_not_redirected(client, ui_client):
    page = client.get("/oauth/authorize", authorize_params("nobody"), status=400)
    assert "Location" not in page.headers and page.content_type == "text/html"
    page = client.get("/oauth/authorize", {"response_type": "code"}, status=400)
    assert "Location" not in page.headers


def test_implicit_response_type_is_refused(client, ui_client):
    answer = client.get("/oauth/authorize", authorize_params(response_type="token"), status=302)
    assert query_of(answer.headers["Location"])["error"] == "unsupported_response_type"


def test_scope_not_registered_is_invalid_scope_redirect(client, ui_client):
    answer = client.get("/oauth/authorize", authorize_params(scope="guest search:write"), status=302)
    assert query_of(answer.headers["Location"])["error"] == "invalid_scope"


def test_redirect_uri_must_match_at_the_token_endpoint(client, ui_client, login_code):
    code, verifier = login_code()
    answer = exchange(client, ui_client, code, verifier, status=400, redirect_uri="http://evil.test/cb")
    assert_oauth_error(answer, "invalid_grant")


def test_expired_code_is_invalid_grant(client, clean_db, ui_client, login_code):
    code, verifier = login_code()
    with clean_db.app_context():
        db.session.execute(update(AuthorizationCode).values(expires_at=AuthorizationCode.expires_at - 61))
        db.session.commit()
    assert_oauth_error(exchange(client, ui_client, code, verifier, status=400), "invalid_grant")


def test_reused_code_fails_and_revokes_what_it_gave(client, ui_client, login_code):
    code, verifier = login_code()
    first = exchange(client, ui_client, code, verifier).json
    assert_oauth_error(exchange(client, ui_client, code, verifier, status=400), "invalid_grant")
    # RFC 6749 4.1.2: the tokens issued from the code are revoked
    creds = basic(ui_client["client_id"], ui_client["client_secret"])
    for token in (first["refresh_token"], first["access_token"]):
        assert client.post("/oauth/introspect", {"token": token}, headers=creds).json == {"active": False}
    answer = client.post("/oauth/token", {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
                         headers=creds, status=400)
    assert_oauth_error(answer, "invalid_grant")


def test_code_of_another_client_is_invalid_grant(client, ui_client, register, login_code):
    other = register("other-ui", "guest", "authorization_code", redirect_uris=[REDIRECT_URI])
    code, verifier = login_code()
    assert_oauth_error(exchange(client, other, code, verifier, status=400), "invalid_grant")


def test_guest_tokens_carry_only_guest_scopes(client, ui_client, login_code, verifier_for):
    answer = client.get("/oauth/authorize", authorize_params(scope="guest users:create"), status=302)
    assert query_of(answer.headers["Location"])["error"] == "invalid_scope"
    code, verifier = login_code(scope=None)  # no scope: the client's guest scopes, not users:create
    token = exchange(client, ui_client, code, verifier).json
    assert token["scope"] == "guest"
