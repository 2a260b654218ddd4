"""users ends a guest's browser sessions (password reset or change, e-mail change, deletion)."""

import time

from conftest import USER_ID, log_in
from webtest import TestApp

from hotelbook_chassis.testing import bearer
from hotelbook_ui.models import BrowserSession, db


def revoke(client, token, user_id=USER_ID, not_before=None, status=200):
    body = {"user_id": user_id, "not_before": time.time() if not_before is None else not_before}
    return client.post_json("/session-revocations", body, headers=bearer(token), status=status)


def test_every_session_of_the_user_ends(client, fake, app, token_factory):
    log_in(client, fake)
    other_browser = TestApp(app)
    log_in(other_browser, fake)
    assert "Hello, Ada" in client.get("/").text and "Hello, Ada" in other_browser.get("/").text
    users = token_factory("sessions:revoke", sub="users")
    assert revoke(client, users).json == {"user_id": USER_ID, "sessions_ended": 2}
    for browser in (client, other_browser):
        assert "Hello, Ada" not in browser.get("/").text
        assert "/login?next=/reservations" in browser.get("/reservations", status=302).headers["Location"]
    assert revoke(client, users).json["sessions_ended"] == 0  # idempotent


def test_sessions_of_others_and_later_log_ins_stay(client, fake, app, token_factory):
    users = token_factory("sessions:revoke", sub="users")
    log_in(client, fake)
    revoke(client, users, user_id="someone-else")
    revoke(client, users, not_before=time.time() - 3600)  # logged in after that cut-off
    assert "Hello, Ada" in client.get("/").text
    with app.app_context():
        assert len(db.session.scalars(db.select(BrowserSession)).all()) == 1


def test_only_users_may_end_sessions(client, fake, token_factory):
    log_in(client, fake)
    body = {"user_id": USER_ID, "not_before": time.time()}
    answer = client.post_json("/session-revocations", body, status=401)
    assert answer.content_type == "application/problem+json"
    client.post_json("/session-revocations", body, headers=bearer(token_factory("guest", sub=USER_ID)), status=403)
    wrong_audience = token_factory("sessions:revoke", aud="auth")
    client.post_json("/session-revocations", body, headers=bearer(wrong_audience), status=401)
    assert "Hello, Ada" in client.get("/").text


def test_bad_input_is_a_problem(client, token_factory):
    users = token_factory("sessions:revoke", sub="users")
    for body in ({"user_id": USER_ID}, {"user_id": "", "not_before": 1}, {"user_id": USER_ID, "not_before": "x"},
                 {"user_id": USER_ID, "not_before": 1e20}, {"user_id": USER_ID, "not_before": time.time() + 3600},
                 {"user_id": "a\x00b", "not_before": 1}):
        problem = client.post_json("/session-revocations", body, headers=bearer(users), status=400).json
        assert problem["invalid_params"], problem
