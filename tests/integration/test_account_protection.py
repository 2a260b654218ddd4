"""Account protections across services, every service a real process behind the gateway:
a password reset ends every session of the account (refresh-token families at auth, browser
sessions at booking-ui), also when auth was down at the time of the change."""

from __future__ import annotations

import re
import time
import uuid
from urllib.parse import urljoin, urlsplit

import requests

from hotelbook_chassis.smtp_sink import body_text
from tests.journey import STRONG_PASSWORD, Guest, form_fields

NEW_PASSWORD = "a new and long passphrase for zoe"


def browser_log_in(stack, email: str, password: str) -> requests.Session:
    """Log in on the booking UI as a browser does (login page at auth, back to the UI)."""
    http = requests.Session()
    page = http.get(f"{stack.gateway_url}/login", params={"next": "/reservations"}, timeout=15)
    assert page.status_code == 200 and "/oauth/authorize" in page.url, page.text[:300]
    action, fields = form_fields(page.text)
    fields.update(email=email, password=password)
    done = http.post(urljoin(page.url, action), data=fields, timeout=30)
    assert done.status_code == 200 and urlsplit(done.url).path == "/reservations", (done.url, done.text[:300])
    return http


def logged_in(http: requests.Session, stack) -> bool:
    answer = http.get(f"{stack.gateway_url}/reservations", allow_redirects=False, timeout=15)
    assert answer.status_code in (200, 302), answer.status_code
    return answer.status_code == 200


def refresh(stack, guest: Guest, token: str) -> requests.Response:
    return requests.post(f"{stack.gateway_url}/oauth/token", data={"grant_type": "refresh_token",
                                                                   "refresh_token": token},
                         auth=(guest.ui_client["client_id"], guest.ui_client["client_secret"]), timeout=15)


def active(stack, guest: Guest, token: str) -> bool:
    """Introspection (on auth's own port: a service's call): unlike a refresh, it spends nothing."""
    answer = requests.post(f"{stack.url('auth')}/oauth/introspect", data={"token": token},
                           auth=(guest.ui_client["client_id"], guest.ui_client["client_secret"]), timeout=15)
    assert answer.status_code == 200, answer.text
    return answer.json()["active"]


def reset_password(stack, email: str, password: str) -> None:
    """What the victim does: forgot password, the mailed link, a new password."""
    asked = requests.post(f"{stack.gateway_url}/api/users/password-resets", json={"email": email}, timeout=15)
    assert asked.status_code == 202
    message = stack.mail.wait_for(email, subject_contains="Reset")
    token = re.search(r"reset-password\?token=([^\s\"'<>]+)", body_text(message)).group(1)
    done = requests.post(f"{stack.gateway_url}/api/users/password-resets/confirm",
                         json={"token": token, "password": password}, timeout=30)
    assert done.status_code == 200, done.text


def guest_without_bookings(email: str, stack) -> Guest:
    guest = Guest(stack.gateway_url, stack.layout.client_credentials("booking-ui"), email=email)
    # It books nothing and its password changes here: the money check must not log it in again.
    Guest.everyone.remove(guest)
    return guest


def start_patiently(stack, name: str) -> None:
    """Start a stopped service; a busy machine may need longer than the usual 30 s to boot it."""
    try:
        stack.start(name)
    except TimeoutError:
        stack.processes[name].wait_ready(150)


def intruder_with_sessions(stack) -> tuple[Guest, str, requests.Session]:
    """Someone signs up first with the victim's address and logs in (API and browser)."""
    email = f"victim-{uuid.uuid4().hex[:8]}@example.test"
    intruder = guest_without_bookings(email, stack)
    intruder.sign_up(stack.token("booking-ui", "users:create"))
    intruder.log_in()
    browser = browser_log_in(stack, email, STRONG_PASSWORD)
    assert logged_in(browser, stack)
    return intruder, intruder.refresh_token, browser


def test_a_password_reset_ends_every_session_of_the_account(stack):
    intruder, refresh_token, browser = intruder_with_sessions(stack)
    reset_password(stack, intruder.email, NEW_PASSWORD)
    # The intruder's refresh token is dead, and so is the browser session.
    refused = refresh(stack, intruder, refresh_token)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant", refused.text
    assert not logged_in(browser, stack)
    # The owner logs in with the new password, and that session lives on.
    owner = guest_without_bookings(intruder.email, stack)
    owner.log_in(NEW_PASSWORD)
    assert refresh(stack, owner, owner.refresh_token).status_code == 200
    assert logged_in(browser_log_in(stack, intruder.email, NEW_PASSWORD), stack)


def test_sessions_end_also_when_auth_was_down_at_the_reset(stack):
    intruder, refresh_token, browser = intruder_with_sessions(stack)
    assert active(stack, intruder, refresh_token)
    stack.stop("auth")
    try:
        # users takes the reset and keeps the signal (it cannot even get its token from auth now).
        reset_password(stack, intruder.email, NEW_PASSWORD)
    finally:
        start_patiently(stack, "auth")
    # The outbox worker delivers once auth is back: both sessions end without anyone asking.
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if not active(stack, intruder, refresh_token) and not logged_in(browser, stack):
            break
        time.sleep(1)
    refused = refresh(stack, intruder, refresh_token)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant", refused.text
    assert not logged_in(browser, stack)
