"""Whatever a client sends, the token endpoints answer an RFC 6749 error JSON, never a 500."""

import base64

import pytest
from conftest import assert_oauth_error, basic


@pytest.fixture
def creds(service_client):
    return basic("payments", service_client["client_secret"])


def test_missing_grant_type(client, creds):
    assert_oauth_error(client.post("/oauth/token", {"scope": "users:read"}, headers=creds, status=400),
                       "invalid_request")
    assert_oauth_error(client.post("/oauth/token", "", headers={**creds, "Content-Type":
                       "application/x-www-form-urlencoded"}, status=400), "invalid_request")


@pytest.mark.parametrize("content_type, body", [
    ("application/json", b'{"grant_type": "client_credentials"}'),
    ("text/plain", b"grant_type=client_credentials"),
    ("multipart/form-data; boundary=x", b"--x--"),
    ("application/octet-stream", bytes(range(256))),
])
def test_wrong_content_type(client, creds, content_type, body):
    answer = client.post("/oauth/token", body, headers={**creds, "Content-Type": content_type}, status=400)
    assert_oauth_error(answer, "invalid_request")


def test_parameters_in_the_url_or_repeated(client, creds):
    answer = client.post("/oauth/token?grant_type=client_credentials", {"scope": "users:read"}, headers=creds,
                         status=400)
    assert_oauth_error(answer, "invalid_request")
    answer = client.post("/oauth/token", [("grant_type", "client_credentials"), ("scope", "a"), ("scope", "b")],
                         headers=creds, status=400)
    assert_oauth_error(answer, "invalid_request")


@pytest.mark.parametrize("header", [
    "Basic !!!not-base64!!!",
    "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(),
    "Basic " + base64.b64encode(b"no-colon").decode(),
    "Bearer abc",
    "Basic",
])
def test_malformed_authorization_header(client, service_client, header):
    answer = client.post("/oauth/token", {"grant_type": "client_credentials"}, headers={"Authorization": header},
                         status=401)
    assert_oauth_error(answer, "invalid_client", 401)
    assert answer.headers["WWW-Authenticate"].startswith("Basic")


@pytest.mark.parametrize("form", [
    {"grant_type": 'x"\\\u00e9\u0000'},
    {"grant_type": "client_credentials", "scope": '"\\ \u2603'},
    {"grant_type": "authorization_code", "code": "\u2603" * 50, "redirect_uri": '"'},
    {"grant_type": "refresh_token", "refresh_token": "\u0000" * 10},
    {"grant_type": "client_credentials", "scope": "x" * 20000},
])
def test_garbage_values(client, creds, form):
    answer = client.post("/oauth/token", form, headers=creds, expect_errors=True)
    assert 400 <= answer.status_int < 500, answer.text
    assert answer.json["error"] and answer.json["error_description"]


def test_both_basic_and_post_credentials(client, creds, service_client):
    answer = client.post("/oauth/token", {"grant_type": "client_credentials", "client_id": "payments",
                                          "client_secret": service_client["client_secret"]},
                         headers=creds, status=400)
    assert_oauth_error(answer, "invalid_request")


@pytest.mark.parametrize("path", ["/oauth/token", "/oauth/introspect", "/oauth/revoke"])
def test_get_is_405_with_oauth_json(client, path):
    answer = client.get(path, status=405)
    assert answer.headers["Allow"] == "POST"
    assert_oauth_error(answer, "invalid_request")


def test_hostile_authorize_parameters_show_an_error_page(client, ui_client):
    for params in ({"response_type": 'code"\\', "client_id": "booking-ui"},
                   {"response_type": "code", "client_id": "booking-ui", "redirect_uri": 'http://x"\\\u2603'},
                   {"response_type": "code", "client_id": "\u2603" * 300}):
        answer = client.get("/oauth/authorize", params, expect_errors=True)
        assert answer.status_int in (302, 400), answer.text
        if answer.status_int == 302:
            assert answer.headers["Location"].startswith("http://127.0.0.1:8080/auth/callback")


def test_nul_bytes_are_client_errors_on_every_database(client, service_client, ui_client):
    bad_basic = {"Authorization": "Basic " + base64.b64encode(b"pay\x00ments:secret").decode()}
    answer = client.post("/oauth/token", {"grant_type": "client_credentials"}, headers=bad_basic, status=401)
    assert_oauth_error(answer, "invalid_client")
    answer = client.post("/oauth/token", {"grant_type": "client_credentials", "client_id": "a\x00",
                                          "client_secret": "b"}, status=400)  # no Basic: 400 (RFC 6749 5.2)
    assert_oauth_error(answer, "invalid_client")
    page = client.get("/oauth/authorize", {"response_type": "code", "client_id": "booking\x00ui"}, status=400)
    assert "Location" not in page.headers
    # a JWT whose header names a kid with a NUL byte
    header = base64.urlsafe_b64encode(b'{"alg":"ES256","typ":"at+jwt","kid":"a\\u0000b"}').rstrip(b"=").decode()
    token = f"{header}.eyJzdWIiOiJ4In0.c2ln"
    answer = client.post("/oauth/introspect", {"token": token},
                         headers=basic("payments", service_client["client_secret"]))
    assert answer.json == {"active": False}
