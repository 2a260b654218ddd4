"""The brake on password guessing: per account and per client address, growing and capped locks,
and a browser the owner logged in from before is never held by an attacker's failures."""

import pytest
from conftest import GUEST, PASSWORD, USERS_URL, authorize_params, fake_users_verify
from sqlalchemy import update
from webtest import TestApp

from hotelbook_auth import domain
from hotelbook_auth.models import LoginThrottle, db

WRONG = "not the password at all"


def attempt(client, email=GUEST["email"], password=PASSWORD, ip="203.0.113.7", status="*"):
    """One log-in through the gateway (which sets X-Real-IP) from ``ip``."""
    env = {"REMOTE_ADDR": "127.0.0.1"}
    headers = {"X-Real-IP": ip}
    page = client.get("/oauth/authorize", authorize_params(), headers=headers, extra_environ=env, status=200)
    form = page.forms[0]
    form["email"] = email
    form["password"] = password
    return form.submit(headers=headers, extra_environ=env, status=status)


def verify_calls(users_api):
    return len([c for c in users_api.calls if c.request.url == f"{USERS_URL}/credentials/verify"])


def unlock_all(app):
    with app.app_context():
        db.session.execute(update(LoginThrottle).values(locked_until=0))
        db.session.commit()


@pytest.fixture
def users_up(users_api):
    fake_users_verify(users_api)
    return users_api


def test_wrong_passwords_then_the_right_one_has_to_wait(client, clean_db, ui_client, users_up):
    for _ in range(4):
        assert attempt(client, password=WRONG).status_int == 200  # four free tries
    assert attempt(client, password=WRONG).status_int == 200  # the fifth fails and locks
    checked = verify_calls(users_up)
    locked = attempt(client, password=PASSWORD)  # the right password, too soon
    assert locked.status_int == 429
    assert 25 <= int(locked.headers["Retry-After"]) <= 30
    assert "Too many failed log-in attempts" in locked.text and "reset your password" in locked.text
    assert "Location" not in locked.headers
    assert verify_calls(users_up) == checked  # during a lock the password is not even tried
    unlock_all(clean_db)
    assert attempt(client, password=PASSWORD).status_int == 302  # after the wait, the owner gets in


def test_the_delay_grows_then_stops_growing(client, clean_db, ui_client, users_up):
    waits = []
    for _ in range(7):
        answer = attempt(client, password=WRONG)
        assert answer.status_int == 200
        with clean_db.app_context():
            row = db.session.scalars(db.select(LoginThrottle).where(LoginThrottle.key.like("account:%"))).one()
            waits.append(row.locked_until - row.last_failure_at)
        unlock_all(clean_db)
    assert waits == [0, 0, 0, 0, 30, 60, 120]
    policy = domain.ACCOUNT_THROTTLE
    assert [policy.lock_seconds(n) for n in (5, 6, 9, 10, 50)] == [30, 60, 480, 900, 900]  # capped: 15 min
    assert policy.failures_after(9, last_failure_at=0, now=policy.forget_after + 1) == 1  # forgotten
    assert policy.failures_after(9, last_failure_at=100, now=200) == 10


def test_an_unknown_address_is_throttled_the_same_way(client, ui_client, users_up):
    for _ in range(5):
        attempt(client, email="nobody@example.test", password=WRONG, status=200)
    locked = attempt(client, email="nobody@example.test", password=WRONG, status=429)
    assert "Too many failed log-in attempts" in locked.text


def test_a_success_starts_the_account_count_again(client, clean_db, ui_client, users_up):
    for _ in range(4):
        attempt(client, password=WRONG, status=200)
    attempt(client, password=PASSWORD, status=302)
    for _ in range(4):
        attempt(client, password=WRONG, status=200)
    attempt(client, password=PASSWORD, status=302)


def test_many_accounts_from_one_address_are_throttled(client, ui_client, users_up):
    for n in range(20):  # one try each at twenty accounts: no account's own brake moves
        attempt(client, email=f"guess{n}@example.test", password=WRONG, ip="198.51.100.9", status=200)
    locked = attempt(client, email=GUEST["email"], password=PASSWORD, ip="198.51.100.9", status=429)
    assert "Too many failed log-in attempts" in locked.text
    # Another address is not held by it.
    attempt(client, email=GUEST["email"], password=PASSWORD, ip="192.0.2.44", status=302)


def test_an_ipv6_subscriber_is_counted_by_its_64_network(client, ui_client, users_up):
    for n in range(20):
        attempt(client, email=f"guess{n}@example.test", password=WRONG, ip=f"2001:db8:1:2::{n + 1:x}", status=200)
    attempt(client, email="other@example.test", password=WRONG, ip="2001:db8:1:2:ffff::1", status=429)
    assert domain.address_bucket("2001:db8:1:2::5") == "2001:db8:1:2::/64"
    assert domain.address_bucket("::ffff:192.0.2.1") == "192.0.2.1"


def test_an_attacker_cannot_lock_the_owner_out_of_a_known_browser(app, client, clean_db, ui_client, users_up):
    attempt(client, password=PASSWORD, status=302)  # the owner's usual browser
    attacker = TestApp(app)
    for _ in range(12):
        attempt(attacker, password=WRONG, ip="198.51.100.66")
        unlock_all(clean_db)  # the attacker waits out every lock and goes on
    attempt(attacker, password=WRONG, ip="198.51.100.66")
    assert attempt(attacker, password=PASSWORD, ip="198.51.100.66").status_int == 429  # locked for strangers
    # The owner, from their browser (another address too), still gets in at once.
    assert attempt(client, password=PASSWORD, ip="192.0.2.10").status_int == 302
    # Their browser has its own brake: guessing from a stolen cookie is slowed down as well.
    for _ in range(5):
        attempt(client, password=WRONG, ip="192.0.2.10", status=200)
    attempt(client, password=PASSWORD, ip="192.0.2.10", status=429)


def test_the_known_browser_cookie_is_signed_and_scoped(client, ui_client, users_up):
    answer = attempt(client, password=PASSWORD, status=302)
    cookie = next(v for k, v in answer.headers.items() if k == "Set-Cookie" and v.startswith("hotelbook_device="))
    assert "HttpOnly" in cookie and "Path=/oauth/" in cookie and "SameSite=Lax" in cookie
    assert GUEST["email"] not in cookie
    # A forged cookie is ignored: the stranger's brake applies.
    stranger = TestApp(client.app)
    stranger.set_cookie("hotelbook_device", "eyJkIjoieCIsImEiOltdfQ.forged.sig")
    for _ in range(5):
        attempt(stranger, password=WRONG, status=200)
    attempt(stranger, password=PASSWORD, status=429)


def test_x_real_ip_counts_only_from_the_gateway(client, clean_db, ui_client, users_up):
    """A client that reaches auth directly cannot pick the address it is counted under."""
    page = client.get("/oauth/authorize", authorize_params(), extra_environ={"REMOTE_ADDR": "192.0.2.200"})
    form = page.forms[0]
    form["email"], form["password"] = GUEST["email"], WRONG
    form.submit(headers={"X-Real-IP": "203.0.113.99"}, extra_environ={"REMOTE_ADDR": "192.0.2.200"}, status=200)
    with clean_db.app_context():
        keys = set(db.session.scalars(db.select(LoginThrottle.key)))
    assert "address:192.0.2.200" in keys and "address:203.0.113.99" not in keys


def test_no_email_address_is_stored(client, clean_db, ui_client, users_up):
    attempt(client, password=WRONG, status=200)
    with clean_db.app_context():
        keys = " ".join(db.session.scalars(db.select(LoginThrottle.key)))
    assert GUEST["email"] not in keys and "zoe" not in keys
