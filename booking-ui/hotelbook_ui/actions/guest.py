"""The logged-in guest of this browser session, and a fresh access token for them."""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import current_app, session

from hotelbook_ui.clients.oauth import OAuthError, auth_client

log = logging.getLogger("hotelbook.ui.guest")
# Refresh a little before expiry so a token never dies on its way to a peer.
REFRESH_MARGIN_SECONDS = 20


class LoginRequired(Exception):
    """The page needs a logged-in guest (or their session ended)."""


def current_guest() -> dict[str, Any] | None:
    """``{user_id, name, email}`` of the logged-in guest, or None."""
    tokens = session.get("tokens")
    if not tokens:
        return None
    return {"user_id": tokens.get("user_id"), "name": tokens.get("name"), "email": tokens.get("email"),
            "email_verified": tokens.get("email_verified", True)}


def store_tokens(tokens: dict[str, Any], user: dict[str, Any]) -> None:
    session["tokens"] = {**tokens, "user_id": user.get("id"), "name": user.get("name"),
                         "email": user.get("email"), "email_verified": user.get("email_verified", True)}


def _fresh(tokens: dict[str, Any]) -> bool:
    return time.time() < float(tokens.get("expires_at", 0)) - REFRESH_MARGIN_SECONDS


def guest_token(*, force_refresh: bool = False) -> str:
    """The guest's access token, refreshed (and the rotated refresh token stored) when expired."""
    tokens = session.get("tokens")
    if not tokens:
        raise LoginRequired
    if not force_refresh and _fresh(tokens):
        return tokens["access_token"]
    if not tokens.get("refresh_token"):
        end_session()
        raise LoginRequired
    mine = tokens["refresh_token"]

    def refresh(stored: dict[str, Any]) -> dict[str, Any]:
        current = stored.get("tokens") or {}
        if current.get("refresh_token") and current["refresh_token"] != mine and _fresh(current):
            return {**stored, **dict(session), "tokens": current}  # another request just refreshed
        try:
            fresh = auth_client().refresh(current.get("refresh_token") or mine)
        except OAuthError:
            return {}
        # Rotation: keep the new refresh token (the old one only if auth sent none).
        return {**dict(session), "tokens": {**tokens, **current, **{k: v for k, v in fresh.items() if v}}}

    interface = current_app.session_interface
    data = interface.with_row_locked(session, refresh)  # type: ignore[attr-defined]
    if not data.get("tokens"):
        log.info("refresh refused: the guest must log in again")
        end_session()
        raise LoginRequired
    session["tokens"] = data["tokens"]
    return data["tokens"]["access_token"]


def end_session() -> None:
    session.destroy()  # type: ignore[attr-defined]
