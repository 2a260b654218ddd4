import base64
import hashlib
import json
import re
import time
from urllib.parse import parse_qs, urlsplit

import responses
from conftest import AUTH, PUBLIC, USER_ID, USERS, fake_jwt, form_bodies, log_in, token_answer

from hotelbook_ui.models import BrowserSession, db


def signup_form(client):
    form = client.get("/signup").forms[0]
    form["name"] = "Ada Lovelace"
    form["email"] = "ada@example.com"
    form["password"] = "correct horse battery staple"
    form["password_confirm"] = "correct horse battery staple"
    return form


def fake_service_token(fake):
    fake.post(f"{AUTH}/oauth/token", json={"access_token": "service-token", "expires_in": 300,
                                           "token_type": "Bearer"})


def test_signup_creates_the_user_with_the_ui_service_token(client, fake):
    fake_service_token(fake)
    fake.post(f"{USERS}/users", status=202, json={"status": "accepted"})
    page = signup_form(client).submit(status=200)
    assert "We sent a message to <strong>ada@example.com</strong>" in page.text
    token_call = form_bodies(fake, "POST", f"{AUTH}/oauth/token")[0]
    assert parse_qs(token_call.body) == {"grant_type": ["client_credentials"], "scope": ["users:create"]}
    assert token_call.headers["Authorization"] == "Basic " + base64.b64encode(
        b"booking-ui:test-client-secret").decode()
    create = form_bodies(fake, "POST", f"{USERS}/users")[0]
    assert create.headers["Authorization"] == "Bearer service-token"
    assert json.loads(create.body) == {"email": "ada@example.com", "name": "Ada Lovelace",
                                       "password": "correct horse battery staple"}


def test_signup_weak_password_shows_the_reason_from_users(client, fake):
    fake_service_token(fake)
    fake.post(f"{USERS}/users", status=400, json={
        "type": "urn:problem:hotelbook:validation-error", "title": "Request validation failed", "status": 400,
        "invalid_params": [{"name": "password", "reason": "Password is too common; choose a longer one."}]})
    page = signup_form(client).submit(status=400)
    assert "Password is too common; choose a longer one." in page.text
    assert 'aria-invalid="true"' in page.text
    assert page.forms[0]["email"].value == "ada@example.com"  # what was typed is kept (not the password)
    assert page.forms[0]["password"].value == ""


def _strip_csrf(html):
    return re.sub(r'name="csrf_token"[^>]*>', "", html)


def test_signup_page_is_the_same_for_a_new_and_a_taken_address(client, fake):
    fake_service_token(fake)
    fake.post(f"{USERS}/users", status=202, json={"status": "accepted"})
    new = signup_form(client).submit()
    # users answers a taken address the same way; an older users said 409: the page is still the same.
    for answer in ({"status": 202, "json": {"status": "accepted"}},
                   {"status": 409, "json": {"status": 409, "title": "Conflict", "detail": "taken"}}):
        fake.replace(responses.POST, f"{USERS}/users", **answer)
        taken = signup_form(client).submit()
        assert taken.status_int == new.status_int == 200
        assert _strip_csrf(taken.text) == _strip_csrf(new.text)
        assert "already exists" not in taken.text


def test_signup_checks_locally_before_calling_users(client, fake):
    form = signup_form(client)
    form["email"] = "not-an-email"
    form["password_confirm"] = "different"
    page = form.submit(status=400)
    assert "Enter a valid e-mail address" in page.text and "The two passwords are not the same" in page.text
    assert len(fake.calls) == 0


def test_signup_with_users_down(client, fake):
    fake_service_token(fake)
    fake.post(f"{USERS}/users", body=responses.ConnectionError("down"))
    page = signup_form(client).submit(status=503)
    assert "account service is not answering" in page.text


def test_post_without_csrf_token_is_refused(client, fake):
    client.get("/signup")
    page = client.post("/signup", {"name": "A", "email": "a@example.com", "password": "x", "password_confirm": "x"},
                       status=400)
    assert "This form has expired" in page.text
    assert len(fake.calls) == 0
    client.post("/logout", status=400)


def test_login_redirects_to_authorize_with_pkce_s256_and_state(client, fake):
    response = client.get("/login", params={"next": "/reservations"}, status=302)
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{PUBLIC}/oauth/authorize"
    query = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert query["response_type"] == "code" and query["client_id"] == "booking-ui"
    assert query["redirect_uri"] == f"{PUBLIC}/auth/callback" and query["scope"] == "guest"
    assert query["code_challenge_method"] == "S256" and len(query["state"]) >= 32
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie

    fake.post(f"{AUTH}/oauth/token", json=token_answer("access-1", "refresh-1"))
    fake.get(f"{USERS}/users/me", json={"id": USER_ID, "email": "ada@example.com", "name": "Ada"})
    done = client.get("/auth/callback", params={"code": "abc", "state": query["state"]}, status=302)
    assert done.headers["Location"].endswith("/reservations")
    exchange = parse_qs(form_bodies(fake, "POST", f"{AUTH}/oauth/token")[0].body)
    assert exchange["grant_type"] == ["authorization_code"] and exchange["code"] == ["abc"]
    assert exchange["redirect_uri"] == [f"{PUBLIC}/auth/callback"]
    verifier = exchange["code_verifier"][0]
    # The verifier sent server-to-server is the one whose S256 hash went to the browser.
    assert base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode() == \
        query["code_challenge"]
    assert "Hello, Ada" in client.get("/").text


def test_session_cookie_holds_only_an_id_and_tokens_stay_server_side(client, fake, app):
    log_in(client, fake, access="access-secret-value", refresh="refresh-secret-value")
    cookie = client.cookies["hb_session"]
    assert "access" not in cookie and len(cookie) < 60
    with app.app_context():
        rows = db.session.scalars(db.select(BrowserSession)).all()
        assert len(rows) == 1 and rows[0].user_id == USER_ID
        assert "refresh-secret-value" not in rows[0].data and cookie not in rows[0].id_hash
    assert "refresh-secret-value" not in client.get("/").text


def test_login_rotates_the_session_id(client, fake):
    client.get("/signup")
    before = client.cookies["hb_session"]
    log_in(client, fake)
    assert client.cookies["hb_session"] != before


def test_callback_with_wrong_state_is_refused(client, fake):
    client.get("/login", status=302)
    page = client.get("/auth/callback", params={"code": "abc", "state": "forged"}, status=400)
    assert "not valid any more" in page.text
    assert len(fake.calls) == 0  # no code exchange with a forged state
    # Without any login started, too.
    client.get("/auth/callback", params={"code": "abc", "state": "x"}, status=400)


def test_callback_with_a_refused_code(client, fake):
    location = client.get("/login").headers["Location"]
    state = parse_qs(urlsplit(location).query)["state"][0]
    fake.post(f"{AUTH}/oauth/token", status=400, json={"error": "invalid_grant"})
    page = client.get("/auth/callback", params={"code": "used", "state": state}, status=400)
    assert "expired or was already used" in page.text


def test_callback_when_auth_is_down(client, fake):
    location = client.get("/login").headers["Location"]
    state = parse_qs(urlsplit(location).query)["state"][0]
    fake.post(f"{AUTH}/oauth/token", body=responses.ConnectionError("down"))
    page = client.get("/auth/callback", params={"code": "c", "state": state}, status=503)
    assert "log-in service is not answering" in page.text


def test_logout_revokes_the_refresh_token_and_deletes_the_session(client, fake, app):
    log_in(client, fake, refresh="refresh-to-revoke")
    fake.post(f"{AUTH}/oauth/revoke", status=200)
    form = client.get("/").forms["logout-form"]
    assert form.action == "/logout"
    done = form.submit(status=302)
    assert "bye=1" in done.headers["Location"]
    revoke = parse_qs(form_bodies(fake, "POST", f"{AUTH}/oauth/revoke")[0].body)
    assert revoke == {"token": ["refresh-to-revoke"], "token_type_hint": ["refresh_token"]}
    with app.app_context():
        assert db.session.scalars(db.select(BrowserSession)).all() == []
    assert "Log in" in client.get("/").text


def test_expired_access_token_is_refreshed_and_the_rotated_token_stored(client, fake):
    from conftest import RESERVATIONS

    log_in(client, fake, access="old-access", refresh="refresh-1", expires_in=1)  # already within the margin
    fake.post(f"{AUTH}/oauth/token", json=token_answer("new-access", "refresh-2", expires_in=1))
    fake.get(f"{RESERVATIONS}/reservations", json={"items": [], "next_token": None})
    client.get("/reservations", status=200)
    refresh = parse_qs(form_bodies(fake, "POST", f"{AUTH}/oauth/token")[-1].body)
    assert refresh == {"grant_type": ["refresh_token"], "refresh_token": ["refresh-1"]}
    assert form_bodies(fake, "GET", f"{RESERVATIONS}/reservations")[0].headers["Authorization"] == \
        "Bearer new-access"
    # Next expiry: the rotated refresh token is used.
    fake.replace(responses.POST, f"{AUTH}/oauth/token", json=token_answer("third-access", "refresh-3",
                                                                          expires_in=1))
    client.get("/reservations", status=200)
    client.get("/reservations", status=200)
    sent = [parse_qs(r.body)["refresh_token"][0] for r in form_bodies(fake, "POST", f"{AUTH}/oauth/token")[1:]]
    assert sent[:2] == ["refresh-1", "refresh-2"]


def test_refused_refresh_ends_the_session_and_asks_to_log_in(client, fake):
    log_in(client, fake, expires_in=1)
    fake.post(f"{AUTH}/oauth/token", status=400, json={"error": "invalid_grant"})
    response = client.get("/reservations", status=302)
    assert "/login?next=/reservations" in response.headers["Location"]
    assert "Log in" in client.get("/").text


def test_pages_needing_login_redirect_to_login(client):
    response = client.get("/reservations", status=302)
    assert response.headers["Location"].endswith("/login?next=/reservations")


def test_verify_email_posts_the_token_to_users(client, fake):
    page = client.get("/verify-email", params={"token": "tok-123"})
    assert len(fake.calls) == 0  # only the button press uses the token
    fake.post(f"{USERS}/email-verifications", json={"email_verified": True})
    done = page.forms[0].submit()
    assert "your e-mail address is verified" in done.text
    assert json.loads(fake.calls[0].request.body) == {"token": "tok-123"}


def test_verify_email_with_a_used_token(client, fake):
    fake.post(f"{USERS}/email-verifications", status=400, json={
        "status": 400, "invalid_params": [{"name": "token", "reason": "expired"}]})
    page = client.get("/verify-email", params={"token": "old"}).forms[0].submit(status=400)
    assert "not valid any more" in page.text


def test_forgot_password_always_gives_the_same_answer(client, fake):
    fake.post(f"{USERS}/password-resets", status=202)
    form = client.get("/forgot-password").forms[0]
    form["email"] = "nobody@example.com"
    page = form.submit(status=202)
    assert "If an account exists for nobody@example.com" in page.text
    assert json.loads(fake.calls[0].request.body) == {"email": "nobody@example.com"}


def test_reset_password_flow_and_errors(client, fake):
    fake.post(f"{USERS}/password-resets/confirm", status=400, json={
        "status": 400, "invalid_params": [{"name": "password", "reason": "Too short."}]})
    form = client.get("/reset-password", params={"token": "t1"}).forms[0]
    form["password"] = form["password_confirm"] = "short"
    page = form.submit(status=400)
    assert "Too short." in page.text
    fake.replace(responses.POST, f"{USERS}/password-resets/confirm", json={})
    form = page.forms[0]
    form["password"] = form["password_confirm"] = "a much longer passphrase"
    assert "Your new password is set" in form.submit().text
    assert json.loads(fake.calls[-1].request.body) == {"token": "t1", "password": "a much longer passphrase"}
    fake.replace(responses.POST, f"{USERS}/password-resets/confirm", status=400, json={
        "status": 400, "invalid_params": [{"name": "token", "reason": "used"}]})
    form = client.get("/reset-password", params={"token": "t1"}).forms[0]
    form["password"] = form["password_confirm"] = "a much longer passphrase"
    assert "already used or has expired" in form.submit(status=400).text


def test_secure_cookie_when_served_over_https(service_config):
    from hotelbook_ui import create_app

    app = create_app({**service_config, "PUBLIC_URL": "https://hotelbook.example"})
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert fake_jwt() and time.time()  # helpers importable


def test_unverified_guest_can_ask_for_a_new_link(client, fake):
    response = client.get("/login", status=302)
    state = parse_qs(urlsplit(response.headers["Location"]).query)["state"][0]
    fake.post(f"{AUTH}/oauth/token", json=token_answer("access-u", "refresh-u"))
    fake.get(f"{USERS}/users/me", json={"id": USER_ID, "email": "ada@example.com", "name": "Ada",
                                        "email_verified": False})
    client.get("/auth/callback", params={"code": "c", "state": state}, status=302)
    page = client.get("/")
    assert "Please verify your e-mail address" in page.text
    fake.post(f"{USERS}/users/me/verification-email", status=202)
    form = next(f for f in page.forms.values() if f.action == "/verify-email/resend")
    after = form.submit(status=302).follow()
    assert "We sent you a new verification link" in after.text
    assert form_bodies(fake, "POST", f"{USERS}/users/me/verification-email")[0].headers["Authorization"] == \
        "Bearer access-u"
    fake.post(f"{USERS}/email-verifications", json={"email_verified": True})
    verify = client.get("/verify-email", params={"token": "t"})
    next(f for f in verify.forms.values() if f.action == "/verify-email").submit()
    assert "Please verify your e-mail address" not in client.get("/").text


def test_back_from_the_login_page_returns_to_the_page_the_guest_left(client, fake):
    location = client.get("/login", params={"next": "/hotels/abc?check_in=2027-01-02"}).headers["Location"]
    state = parse_qs(urlsplit(location).query)["state"][0]
    back = client.get("/auth/callback", params={"error": "access_denied", "state": state}, status=302)
    assert back.headers["Location"] == "/hotels/abc?check_in=2027-01-02"
    assert len(fake.calls) == 0
    # A forged "cancel" without the state of a log-in this browser started goes nowhere.
    client.get("/auth/callback", params={"error": "access_denied", "state": state}, status=400)


def test_sign_up_and_reset_pages_reached_from_the_login_page_lead_back_to_where_the_guest_was(client, fake):
    client.get("/login", params={"next": "/hotels/abc"}, status=302)
    for path in ("/signup", "/forgot-password"):
        links = [a["href"] for a in client.get(path).html.select("main a") if a.get_text(strip=True) == "Log in"]
        assert links == ["/login?next=/hotels/abc"]
    fake_service_token(fake)
    fake.post(f"{USERS}/users", status=202, json={"status": "accepted"})
    done = signup_form(client).submit(status=200)
    assert done.html.select_one("main a.button")["href"] == "/login?next=/hotels/abc"


def test_login_link_without_a_pending_log_in_is_plain(client):
    page = client.get("/signup")
    assert [a["href"] for a in page.html.select("main a") if a.get_text(strip=True) == "Log in"] == ["/login"]


def test_pages_wear_the_shared_theme(client):
    page = client.get("/signup")
    assert page.html.find("link", rel="stylesheet")["href"] == "/static/theme/site.css"
    css = client.get("/static/theme/site.css", status=200)
    assert css.content_type == "text/css" and "--brand:" in css.text
    client.get("/static/theme/favicon.svg", status=200)
    client.get("/static/site.js", status=200)
