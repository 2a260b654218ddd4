"""The UI's own settings, from the environment (peer URLs, public URL, client credentials)."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from typing import Any

from hotelbook_chassis import config
from hotelbook_chassis.config import peer_url, var_dir


def _client_file() -> dict[str, str]:
    """``var/clients/booking-ui.json`` written by the stack bootstrap, when env vars are absent."""
    path = var_dir() / "clients" / "booking-ui.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def defaults() -> dict[str, Any]:
    public_url = config.public_url()
    settings: dict[str, Any] = {
        "PUBLIC_URL": public_url,
        "REDIRECT_URI": os.environ.get("REDIRECT_URI", f"{public_url}/auth/callback"),
        "GUEST_SCOPE": "guest",
        "SEARCH_URL": peer_url("search"),
        "USERS_URL": peer_url("users"),
        "RESERVATIONS_URL": peer_url("reservations"),
        "PAYMENTS_URL": peer_url("payments"),
        "PEER_CONNECT_TIMEOUT": float(os.environ.get("PEER_CONNECT_TIMEOUT", "2")),
        "PEER_READ_TIMEOUT": float(os.environ.get("PEER_READ_TIMEOUT", "8")),
        "SESSION_COOKIE_NAME": "hb_session",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": public_url.startswith("https://"),
        "PERMANENT_SESSION_LIFETIME": timedelta(days=14),
        # The CSRF token lives in the server-side session; it needs no clock of its own.
        "WTF_CSRF_TIME_LIMIT": None,
        "RESULTS_PAGE_SIZE": 10,
    }
    if not os.environ.get("CLIENT_ID"):
        stored = _client_file()
        if stored:
            settings["CLIENT_ID"] = stored.get("client_id")
            settings["CLIENT_SECRET"] = stored.get("client_secret")
    return settings
