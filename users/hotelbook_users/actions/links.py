"""Signed, expiring, single-use tokens for the links users e-mails.

A verification token names the user and the address it verifies: once that
address is verified (or changed) the token has nothing left to do. A reset
token carries a fingerprint of the current password hash: once the password
changes, every earlier reset token is dead. No token table is needed.
"""

from __future__ import annotations

import hashlib
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from hotelbook_chassis.problems import invalid

VERIFY, RESET = "verify-email", "reset-password"


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"users:{purpose}")


def fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def make(purpose: str, payload: dict[str, Any]) -> str:
    return _serializer(purpose).dumps(payload)


def read(purpose: str, token: str, max_age: int) -> dict[str, Any]:
    """The payload, or a 400 naming ``token`` when forged or expired."""
    try:
        payload = _serializer(purpose).loads(token, max_age=max_age)
    except SignatureExpired:
        raise invalid("token", "This link has expired; ask for a new one.") from None
    except BadSignature:
        raise invalid("token", "This link is not valid.") from None
    if not isinstance(payload, dict):
        raise invalid("token", "This link is not valid.")
    return payload


def page(path: str) -> str:
    """A booking UI page as the guest sees it."""
    return f"{current_app.config['PUBLIC_URL'].rstrip('/')}/{path}"


def link(path: str, token: str) -> str:
    return f"{page(path)}?token={token}"
