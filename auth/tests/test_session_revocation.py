"""Ending a guest's sessions: users' signal after a password or address change or a deletion,
and the absolute lifetime of a refresh-token family."""

import time

from conftest import GUEST, assert_oauth_error, basic, client_token, exchange, refresh
from sqlalchemy import update

from hotelbook_auth import domain
from hotelbook_auth.models import RefreshToken, SessionCutoff, db
from hotelbook_chassis.testing import bearer

DAY = 24 * 3600


def users_token(client, register):
    users = register("users", "sessions:revoke")
    return client_token(client, users).json["access_token"]


def revoke(client, token, user_id=GUEST["id"], not_before=None, status=200):
    body = {"user_id": user_id, "not_before": time.time() if not_before is None else not_before}
    return client.post_json("/session-revocations", body, headers=bearer(token), status=status)


def _tokens(client, ui_client, login_code):
    code, verifier = login_code()
    return exchange(client, ui_client, code, verifier).json


def introspect(client, ui_client, token):
    return client.post("/oauth/introspect", {"token": token},
                       headers=basic(ui_client["client_id"], ui_client["client_secret"])).json


def test_every_family_of_the_user_ends(client, register, ui_client, login_code):
    """Someone who logged in with the victim's password keeps nothing after the victim's reset."""
    victim = _tokens(client, ui_client, login_code)
    intruder = _tokens(client, ui_client, login_code)
    rotated = refresh(client, ui_client, intruder["refresh_token"]).json
    answer = revoke(client, users_token(client, register)).json
    assert answer == {"user_id": GUEST["id"], "families_revoked": 2}
    for tokens in (victim, rotated):
        assert_oauth_error(refresh(client, ui_client, tokens["refresh_token"], status=400), "invalid_grant")
        assert introspect(client, ui_client, tokens["access_token"]) == {"active": False}
    # Idempotent: users may deliver twice.
    assert revoke(client, users_token(client, register)).json["families_revoked"] == 0


def test_a_log_in_after_the_cut_off_lives_on(client, register, ui_client, login_code):
    token = users_token(client, register)
    revoke(client, token)
    time.sleep(0.01)
    fresh = _tokens(client, ui_client, login_code)
    assert refresh(client, ui_client, fresh["refresh_token"]).json["refresh_token"]


def test_a_code_from_before_the_cut_off_is_refused(client, register, ui_client, login_code):
    """A log-in half-way (password checked, code not yet exchanged) is ended too."""
    code, verifier = login_code()
    revoke(client, users_token(client, register))
    assert_oauth_error(exchange(client, ui_client, code, verifier, status=400), "invalid_grant")


def test_other_users_are_untouched_and_a_later_cut_off_wins(client, clean_db, register, ui_client, login_code):
    mine = _tokens(client, ui_client, login_code)
    token = users_token(client, register)
    revoke(client, token, user_id="someone-else")
    assert refresh(client, ui_client, mine["refresh_token"]).json["refresh_token"]
    revoke(client, token, user_id="someone-else", not_before=1000.0)  # an older, late duplicate
    with clean_db.app_context():
        assert db.session.get(SessionCutoff, "someone-else").not_before_ms > 1000 * 1000


def test_only_users_may_end_sessions(client, register, service_client, ui_client, login_code, token_factory):
    body = {"user_id": GUEST["id"], "not_before": time.time()}
    client.post_json("/session-revocations", body, status=401)
    # Other services' tokens and guest tokens are not for auth at all (wrong audience); nor is a
    # token auth did not sign.
    payments = client_token(client, service_client).json["access_token"]
    client.post_json("/session-revocations", body, headers=bearer(payments), status=401)
    guest = _tokens(client, ui_client, login_code)["access_token"]
    client.post_json("/session-revocations", body, headers=bearer(guest), status=401)
    forged = token_factory("sessions:revoke", aud="auth")
    client.post_json("/session-revocations", body, headers=bearer(forged), status=401)


def test_bad_input_is_a_problem(client, register, active_kid):
    token = users_token(client, register)
    for body, name in (({"user_id": GUEST["id"]}, "not_before"),
                       ({"user_id": "", "not_before": 1.0}, "user_id"),
                       ({"user_id": GUEST["id"], "not_before": time.time() + 3600}, "not_before"),
                       ({"user_id": "a\x00b", "not_before": 1.0}, "user_id")):
        problem = client.post_json("/session-revocations", body, headers=bearer(token), status=400).json
        assert name in {p["name"] for p in problem["invalid_params"]}, (body, problem)


def test_the_scope_goes_to_auth_and_booking_ui_only(client, register, verifier_for, active_kid):
    claims = verifier_for("booking-ui").verify(users_token(client, register))
    assert claims["aud"] == ["auth", "booking-ui"] and claims["scope"] == "sessions:revoke"


def test_a_family_ends_30_days_after_its_log_in_however_often_it_is_used(client, clean_db, ui_client, login_code):
    tokens = _tokens(client, ui_client, login_code)
    tokens = refresh(client, ui_client, tokens["refresh_token"]).json
    with clean_db.app_context():
        # The log-in was 30 days ago; the newest token itself was issued just now (sliding: 14 days).
        db.session.execute(update(RefreshToken).values(auth_time_ms=RefreshToken.auth_time_ms - 30 * DAY * 1000))
        db.session.commit()
    assert_oauth_error(refresh(client, ui_client, tokens["refresh_token"], status=400), "invalid_grant")


def test_refresh_tokens_never_outlive_the_family():
    started = 1_000_000 * 1000
    assert domain.refresh_expiry(issued_at=1_000_000, family_started_ms=started, sliding=14 * DAY,
                                 max_age=30 * DAY) == 1_000_000 + 14 * DAY
    late = 1_000_000 + 25 * DAY
    assert domain.refresh_expiry(issued_at=late, family_started_ms=started, sliding=14 * DAY,
                                 max_age=30 * DAY) == 1_000_000 + 30 * DAY
    assert domain.family_alive(family_started_ms=started, now_ms=started + 1, max_age=30 * DAY, cutoff_ms=None)
    assert not domain.family_alive(family_started_ms=started, now_ms=started + 30 * DAY * 1000, max_age=30 * DAY,
                                   cutoff_ms=None)
    assert not domain.family_alive(family_started_ms=started, now_ms=started + 1, max_age=30 * DAY,
                                   cutoff_ms=started)
    assert domain.family_alive(family_started_ms=started, now_ms=started + 1, max_age=30 * DAY,
                               cutoff_ms=started - 1)
