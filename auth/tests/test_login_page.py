"""The login page: accessible form, CSRF, same answer for unknown e-mail and wrong password, users down."""

import json
import re

import requests
import responses
from conftest import (
    GUEST,
    PASSWORD,
    REDIRECT_URI,
    RESET_URI,
    SIGNUP_URI,
    USERS_URL,
    authorize_params,
    fake_users_verify,
    log_in,
    query_of,
)

from hotelbook_auth.settings import defaults


def _strip_csrf(html):
    return re.sub(r'name="csrf_token" type="hidden" value="[^"]+"', "", html)


def test_login_page_is_a_plain_accessible_form(client, ui_client):
    page = client.get("/oauth/authorize", authorize_params(), status=200)
    assert page.content_type == "text/html"
    assert '<html lang="en">' in page.text and "<title>" in page.text
    assert '<label for="email">' in page.text and '<label for="password">' in page.text
    form = page.forms[0]
    assert form.method.upper() == "POST"
    assert set(form.fields) >= {"email", "password", "csrf_token"}
    assert form.action.startswith("/oauth/authorize?")  # the OAuth request stays in the URL
    assert page.headers["X-Frame-Options"] == "DENY" and page.headers["Cache-Control"] == "no-store"
    assert "to continue to <strong>Hotelbook</strong>" in page.text  # the display name, not the id
    assert "booking-ui" not in page.html.get_text()


def test_login_page_wears_the_site_look_from_the_shared_theme(client, ui_client):
    page = client.get("/oauth/authorize", authorize_params(), status=200)
    sheet = page.html.find("link", rel="stylesheet")["href"]
    assert sheet == "/oauth/theme/site.css"
    assert page.html.select_one(".site-header .brand").get_text(strip=True).endswith("Hotelbook")
    assert page.html.find("a", class_="skip-link")["href"] == "#main"
    # Only this app's own files: no inline style, no other origin.
    assert "style-src 'self'" in page.headers["Content-Security-Policy"]
    assert "<style" not in page.text and " style=" not in page.text
    css = client.get(sheet, status=200)
    assert css.content_type == "text/css" and "--brand:" in css.text
    client.get("/oauth/theme/favicon.svg", status=200)
    client.get("/oauth/theme/../models.py", status=404)


def test_login_page_links_to_the_clients_own_sign_up_and_reset_pages(client, ui_client):
    page = client.get("/oauth/authorize", authorize_params(), status=200)
    links = {a.get_text(strip=True): a["href"] for a in page.html.select("main a")}
    assert links["Create an account"] == SIGNUP_URI
    assert links["Forgot your password?"] == RESET_URI


def test_a_client_without_pages_gets_no_links(client, register, active_kid):
    register("other-app", "guest", "authorization_code", redirect_uris=["https://other.example/cb"],
             display_name="Other")
    page = client.get("/oauth/authorize", authorize_params(client_id="other-app",
                                                           redirect_uri="https://other.example/cb"), status=200)
    assert "to continue to <strong>Other</strong>" in page.text
    assert not page.html.select("main a")


def test_back_to_the_client_sends_access_denied_and_state_to_its_redirect_uri(client, ui_client, users_api):
    params = authorize_params()
    page = client.get("/oauth/authorize", params, status=200)
    back = page.forms[1]
    assert back.action == page.forms[0].action  # the same allow-listed request
    answer = back.submit("cancel", status=302)
    location = answer.headers["Location"]
    assert location.startswith(REDIRECT_URI + "?")
    query = query_of(location)
    assert query["error"] == "access_denied" and query["state"] == params["state"]
    assert not users_api.calls


def test_back_without_csrf_token_stays_on_the_page(client, ui_client):
    params = authorize_params()
    client.get("/oauth/authorize", params, status=200)
    query = "&".join(f"{k}={v}" for k, v in params.items())
    answer = client.post(f"/oauth/authorize?{query}", {"cancel": "1"}, status=400)
    assert "Location" not in answer.headers and "expired" in answer.text


def test_back_cannot_be_pointed_at_another_redirect_uri(client, ui_client):
    params = authorize_params(redirect_uri="https://evil.example/cb")
    answer = client.post("/oauth/authorize?" + "&".join(f"{k}={v}" for k, v in params.items()),
                         {"cancel": "1"}, status=400)
    assert "Location" not in answer.headers
    assert "not valid" in answer.text


def test_session_cookie_flags(client, ui_client):
    page = client.get("/oauth/authorize", authorize_params(), status=200)
    cookie = page.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/oauth/" in cookie
    assert "Secure" not in cookie  # PUBLIC_URL is http in tests


def test_secure_cookie_when_public_url_is_https(monkeypatch):
    monkeypatch.setenv("PUBLIC_URL", "https://hotels.example")
    assert defaults()["SESSION_COOKIE_SECURE"] is True
    monkeypatch.setenv("PUBLIC_URL", "http://127.0.0.1:8080")
    assert defaults()["SESSION_COOKIE_SECURE"] is False


def test_success_redirects_with_code_and_state_and_asks_users_with_its_own_token(
        client, ui_client, users_api, verifier_for):
    fake_users_verify(users_api)
    params = authorize_params()
    answer = log_in(client, params)
    location = answer.headers["Location"]
    assert location.startswith("http://127.0.0.1:8080/auth/callback?")
    query = query_of(location)
    assert query["state"] == params["state"] and len(query["code"]) >= 40
    sent = users_api.calls[-1].request
    assert json.loads(sent.body) == {"email": GUEST["email"], "password": PASSWORD}
    token = sent.headers["Authorization"].removeprefix("Bearer ")
    claims = verifier_for("users").verify(token)  # users accepts auth's self-signed service token
    assert claims["scope"] == "users:verify" and claims["aud"] == ["users"] and claims["sub"] == "auth"


def test_post_without_csrf_token_is_refused(client, ui_client, users_api):
    fake_users_verify(users_api)
    params = authorize_params()
    client.get("/oauth/authorize", params, status=200)
    answer = client.post("/oauth/authorize?" + "&".join(f"{k}={v}" for k, v in params.items()),
                         {"email": GUEST["email"], "password": PASSWORD}, status=400)
    assert "Location" not in answer.headers
    assert "expired" in answer.text
    assert not users_api.calls  # credentials not even checked


def test_unknown_email_and_wrong_password_answer_the_same(client, ui_client, users_api):
    fake_users_verify(users_api)
    params = authorize_params()
    wrong = log_in(client, params, password="wrong password", status=200)
    unknown = log_in(client, params, email="nobody@example.test", status=200)
    assert "The e-mail address or password is incorrect." in wrong.text
    assert _strip_csrf(wrong.text).replace(GUEST["email"], "X") == \
        _strip_csrf(unknown.text).replace("nobody@example.test", "X")
    assert wrong.status_int == unknown.status_int == 200


def test_users_down_shows_try_again(client, ui_client, users_api):
    users_api.add(responses.POST, f"{USERS_URL}/credentials/verify", body=requests.ConnectionError("refused"))
    answer = log_in(client, authorize_params(), status=503)
    assert "try again" in answer.text
    assert answer.content_type == "text/html"


def test_users_error_shows_try_again(client, ui_client, users_api):
    users_api.add(responses.POST, f"{USERS_URL}/credentials/verify", status=500, json={"status": 500})
    answer = log_in(client, authorize_params(), status=503)
    assert "try again" in answer.text


def test_empty_fields_are_a_form_error(client, ui_client, users_api):
    answer = log_in(client, authorize_params(), email="", password="", status=400)
    assert "Please enter your e-mail address and password." in answer.text
    assert not users_api.calls


def test_users_refusing_auths_token_is_unavailable_not_a_wrong_password(client, ui_client, users_api):
    users_api.add(responses.POST, f"{USERS_URL}/credentials/verify", status=403, json={"status": 403})
    answer = log_in(client, authorize_params(), status=503)
    assert "try again" in answer.text and "incorrect" not in answer.text


def test_users_rejecting_the_input_is_a_failed_login(client, ui_client, users_api):
    users_api.add(responses.POST, f"{USERS_URL}/credentials/verify", status=400, json={"status": 400})
    answer = log_in(client, authorize_params(), email="not-an-email", status=200)
    assert "The e-mail address or password is incorrect." in answer.text


def test_password_is_never_echoed_or_logged(client, ui_client, users_api, caplog):
    fake_users_verify(users_api)
    answer = log_in(client, authorize_params(), password="s3cret-Wrong-pass", status=200)
    assert "s3cret-Wrong-pass" not in answer.text
    assert "failed login for client booking-ui" in caplog.text  # the log is captured...
    assert "s3cret-Wrong-pass" not in caplog.text and GUEST["email"] not in caplog.text  # ...without secrets
