"""auth's own settings, from the environment (the chassis gives the common ones)."""

from __future__ import annotations

import os
from typing import Any

from hotelbook_chassis import config, topology
from hotelbook_chassis.config import dev_secret, peer_url


def _seconds(name: str, default: int) -> int:
    value = int(os.environ.get(name, default))
    if value <= 0:
        raise ValueError(f"{name} must be a positive number of seconds")
    return value


def defaults() -> dict[str, Any]:
    public_url = config.public_url()
    return {
        "ACCESS_TOKEN_TTL": _seconds("ACCESS_TOKEN_TTL", 300),
        "REFRESH_TOKEN_TTL": _seconds("REFRESH_TOKEN_TTL", 14 * 24 * 3600),
        # A refresh-token family ends this long after the log-in it started with, however often
        # it is used (REFRESH_TOKEN_TTL is the sliding part).
        "REFRESH_FAMILY_MAX_AGE": _seconds("REFRESH_FAMILY_MAX_AGE", 30 * 24 * 3600),
        "AUTH_CODE_TTL": _seconds("AUTH_CODE_TTL", 60),
        # A retired key stays published this long after the last token it signed expired
        # (clock skew, the verifiers' leeway).
        "KEY_RETIRE_LEEWAY": _seconds("KEY_RETIRE_LEEWAY", 60),
        # auth's own token for users' /credentials/verify, minted locally.
        "SERVICE_TOKEN_TTL": _seconds("SERVICE_TOKEN_TTL", 60),
        # Encrypts the private signing keys in the database (a development value is generated).
        "KEY_ENCRYPTION_KEY": os.environ.get("KEY_ENCRYPTION_KEY") or dev_secret("auth-key-encryption-key"),
        "USERS_URL": peer_url("users"),
        # Requests from these (the gateway) say who the browser is in X-Real-IP (login throttling).
        "TRUSTED_PROXIES": tuple(os.environ.get("TRUSTED_PROXIES", "127.0.0.1 ::1").split()),
        "PUBLIC_URL": public_url,
        "USERS_TIMEOUT": (2.0, float(os.environ.get("USERS_READ_TIMEOUT", topology.service("auth").timeouts["users"]))),
        # The login page's session only carries the CSRF token; its own name and path so it
        # never meets booking-ui's cookie on the shared gateway host.
        "SESSION_COOKIE_NAME": "hotelbook_auth",
        "SESSION_COOKIE_PATH": "/oauth/",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": public_url.startswith("https://"),
        "WTF_CSRF_TIME_LIMIT": 3600,
        "WTF_CSRF_SSL_STRICT": public_url.startswith("https://"),
        "MAX_CONTENT_LENGTH": 64 * 1024,
    }
