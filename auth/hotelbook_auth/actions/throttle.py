"""A brake on password guessing: failed log-ins slow further tries down.

Counted per account (a keyed digest of the e-mail address: auth stores no address) and per
client address (the gateway's ``X-Real-IP``), with the growing, capped locks of
``domain.ACCOUNT_THROTTLE`` and ``domain.ADDRESS_THROTTLE``. A lock is checked before the
password is, so guessing during a lock learns nothing.

So that an attacker cannot lock a real guest out, a browser that logged in to an account
before carries a signed "known device" cookie (OWASP's device cookies): for that account it
is held only by its own counter, not by the account's or the address's lock.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from typing import Any

from flask import Response, current_app, request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import case, delete, select

from hotelbook_auth import domain
from hotelbook_auth.actions.oauth import insert_for_dialect
from hotelbook_auth.models import LoginThrottle, db
from hotelbook_chassis.clock import now_seconds as _now

DEVICE_COOKIE = "hotelbook_device"
DEVICE_MAX_AGE = 90 * 24 * 3600
ACCOUNTS_PER_DEVICE = 5

Keys = list[tuple[str, domain.ThrottlePolicy]]


def account_digest(email: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, b"login-account:" + email.strip().lower().encode(), hashlib.sha256).hexdigest()[:40]


def client_address() -> str:
    """The browser's address: the gateway's ``X-Real-IP`` when the request came from it."""
    remote = request.remote_addr or ""
    if remote in current_app.config["TRUSTED_PROXIES"]:
        real = request.headers.get("X-Real-IP", "").strip()
        if real:
            return real
    return remote


def _devices() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="auth:known-device")


def _device_cookie() -> dict[str, Any] | None:
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw or len(raw) > 4096:
        return None
    try:
        data = _devices().loads(raw, max_age=DEVICE_MAX_AGE)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("d"), str) or not isinstance(data.get("a"), list):
        return None
    return data


def keys_for(email: str) -> tuple[Keys, str]:
    """The counters a log-in for ``email`` from this browser is held by, and the account digest."""
    account = account_digest(email)
    device = _device_cookie()
    if device and account in device["a"]:
        return [(f"device:{account[:20]}:{device['d'][:40]}", domain.ACCOUNT_THROTTLE)], account
    return [(f"account:{account}", domain.ACCOUNT_THROTTLE),
            (f"address:{domain.address_bucket(client_address())}", domain.ADDRESS_THROTTLE)], account


def wait_seconds(keys: Keys) -> int:
    """0, or how long this log-in must wait (the longest lock among its counters)."""
    now = _now()
    locked = db.session.scalars(select(LoginThrottle.locked_until)
                                .where(LoginThrottle.key.in_([key for key, _ in keys]))).all()
    db.session.rollback()
    return max([until - now for until in locked if until > now], default=0)


def record_failure(keys: Keys) -> None:
    now = _now()
    for key, policy in keys:
        insert = insert_for_dialect(LoginThrottle).values(key=key, failures=1, last_failure_at=now,
                                               locked_until=now + policy.lock_seconds(1))
        db.session.execute(insert.on_conflict_do_update(index_elements=[LoginThrottle.key], set_={
            "failures": case((LoginThrottle.last_failure_at < now - policy.forget_after, 1),
                             else_=LoginThrottle.failures + 1),
            "last_failure_at": now,
        }))
        row = db.session.execute(select(LoginThrottle).where(LoginThrottle.key == key)
                                 .execution_options(populate_existing=True)).scalar_one()
        row.locked_until = max(row.locked_until, now + policy.lock_seconds(row.failures))
    db.session.commit()


def record_success(keys: Keys) -> None:
    """The owner got in: their account's (or browser's) count starts again. An address's count
    does not: logging in to one's own account must not reset guessing at others."""
    db.session.execute(delete(LoginThrottle).where(
        LoginThrottle.key.in_([key for key, _ in keys if not key.startswith("address:")])))
    db.session.commit()


def remember_device(response: Response, account: str) -> None:
    """Mark this browser as one the account's owner logs in from."""
    device = _device_cookie() or {"d": secrets.token_urlsafe(16), "a": []}
    accounts = [account] + [a for a in device["a"] if a != account]
    value = _devices().dumps({"d": device["d"], "a": accounts[:ACCOUNTS_PER_DEVICE]})
    response.set_cookie(DEVICE_COOKIE, value, max_age=DEVICE_MAX_AGE, path="/oauth/", httponly=True,
                        samesite="Lax", secure=current_app.config["SESSION_COOKIE_SECURE"])


def message(wait: int) -> str:
    if wait < 60:
        when = f"{wait} seconds" if wait != 1 else "1 second"
    else:
        minutes = math.ceil(wait / 60)
        when = f"{minutes} minutes" if minutes != 1 else "1 minute"
    return (f"Too many failed log-in attempts. For your safety, please wait {when} before trying again, "
            "or reset your password.")


def purge(now: int | None = None) -> int:
    """Counters whose last failure is older than any policy remembers."""
    now = _now() if now is None else now
    horizon = max(domain.ACCOUNT_THROTTLE.forget_after, domain.ADDRESS_THROTTLE.forget_after)
    return db.session.execute(delete(LoginThrottle).where(LoginThrottle.last_failure_at < now - horizon,
                                                          LoginThrottle.locked_until < now)).rowcount
