from conftest import assert_oauth_error, basic, client_token
from joserfc import jws

from hotelbook_chassis.testing import TEST_ISSUER


def test_service_token_is_an_rfc9068_jwt_the_services_accept(client, service_client, active_kid, verifier_for):
    answer = client_token(client, service_client, "reservations:read users:read").json
    assert answer["token_type"] == "Bearer" and answer["expires_in"] == 300
    assert answer["scope"] == "reservations:read users:read"
    assert "refresh_token" not in answer
    header = jws.extract_compact(answer["access_token"].encode()).protected
    assert header == {"alg": "ES256", "typ": "at+jwt", "kid": active_kid}
    claims = verifier_for("reservations").verify(answer["access_token"])
    assert claims["iss"] == TEST_ISSUER
    assert claims["sub"] == claims["client_id"] == "payments"
    assert claims["aud"] == ["reservations", "users"]  # the services the scopes concern, not the client
    assert claims["exp"] - claims["iat"] == 300
    assert set(claims) >= {"iss", "sub", "aud", "exp", "iat", "jti", "client_id", "scope"}
    # users accepts it too; pdf-reporting does not (no pdf:render asked for)
    verifier_for("users").verify(answer["access_token"])
    try:
        verifier_for("pdf-reporting").verify(answer["access_token"])
    except Exception as error:
        assert "aud" in str(error)
    else:
        raise AssertionError("a token without pdf:render must not be accepted by pdf-reporting")


def test_without_scope_the_registered_scopes_are_granted(client, service_client):
    answer = client_token(client, service_client).json
    assert answer["scope"] == "reservations:read reservations:confirm users:read pdf:render"


def test_scope_the_client_may_not_have_is_invalid_scope(client, service_client):
    answer = client_token(client, service_client, "users:read guest", status=400)
    assert_oauth_error(answer, "invalid_scope", 400)
    assert_oauth_error(client_token(client, service_client, "search:write", status=400), "invalid_scope")


def test_bad_client_secret_is_invalid_client_401(client, service_client):
    answer = client.post("/oauth/token", {"grant_type": "client_credentials"},
                         headers=basic("payments", service_client["client_secret"] + "x"), status=401)
    assert_oauth_error(answer, "invalid_client", 401)
    assert answer.headers["WWW-Authenticate"].startswith("Basic")
    unknown = client.post("/oauth/token", {"grant_type": "client_credentials"},
                          headers=basic("nobody", "secret"), status=401)
    assert_oauth_error(unknown, "invalid_client", 401)


def test_no_client_authentication_is_invalid_client(client, service_client):
    answer = client.post("/oauth/token", {"grant_type": "client_credentials", "client_id": "payments"}, status=401)
    assert_oauth_error(answer, "invalid_client")


def test_client_secret_post_also_works(client, service_client):
    answer = client.post("/oauth/token", {"grant_type": "client_credentials", "scope": "pdf:render",
                                          "client_id": "payments",
                                          "client_secret": service_client["client_secret"]})
    assert answer.json["scope"] == "pdf:render"


def test_client_without_the_grant_is_unauthorized_client(client, register, active_kid):
    public = register("spa", "guest", "authorization_code", redirect_uris=["http://x.test/cb"], public=True)
    assert "client_secret" not in public
    answer = client.post("/oauth/token", {"grant_type": "client_credentials", "client_id": "spa"}, status=401)
    assert_oauth_error(answer, "invalid_client")


def test_password_and_implicit_grants_do_not_exist(client, service_client):
    for grant in ("password", "implicit", "urn:ietf:params:oauth:grant-type:jwt-bearer"):
        answer = client.post("/oauth/token", {"grant_type": grant, "username": "a", "password": "b"},
                             headers=basic("payments", service_client["client_secret"]), status=400)
        assert_oauth_error(answer, "unsupported_grant_type")


def test_no_signing_key_is_503_not_500(client, register):
    creds = register("search", "reservations:availability")  # no active_kid fixture: no key yet
    answer = client_token(client, creds, status=503)
    assert_oauth_error(answer, "temporarily_unavailable")
    assert client.get("/readyz", status=503).json["checks"]["signing_key"]


def test_client_credentials_never_carry_guest_scope(client, ui_client):
    assert_oauth_error(client_token(client, ui_client, "guest", status=400), "invalid_scope")
    assert client_token(client, ui_client).json["scope"] == "users:create"  # default: service scopes only
