"""The logged-in guest of this browser session, and a fresh access token for them."""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import current_app, session

from hotelbook_ui.oauth import OAuthError, auth_client

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


def guest_token(*, force_refresh: bool = False) -> str:
    """The guest's access token, refreshed (and the rotated refresh token stored) when expired."""
    tokens = session.get("tokens")
    if not tokens:
        raise LoginRequired
    if not force_refresh and time.time() < float(tokens.get("expires_at", 0)) - REFRESH_MARGIN_SECONDS:
        return tokens["access_token"]
    if not tokens.get("refresh_token"):
        end_session()
        raise LoginRequired
    try:
        fresh = auth_client().refresh(tokens["refresh_token"])
    except OAuthError:
        # Another request of the same browser may have rotated the refresh token a moment
        # ago (rotation makes the old one invalid): use what it stored, if anything.
        stored = current_app.session_interface.reload(session)  # type: ignore[attr-defined]
        stored_tokens = (stored or {}).get("tokens") or {}
        if (stored_tokens.get("refresh_token") not in (None, tokens["refresh_token"])
                and time.time() < float(stored_tokens.get("expires_at", 0)) - REFRESH_MARGIN_SECONDS):
            session["tokens"] = stored_tokens
            return stored_tokens["access_token"]
        log.info("refresh refused: the guest must log in again")
        end_session()
        raise LoginRequired from None
    # Rotation: keep the new refresh token; keep the old one only if auth sent none.
    session["tokens"] = {**tokens, **{k: v for k, v in fresh.items() if v}}
    return fresh["access_token"]


def end_session() -> None:
    session.destroy()  # type: ignore[attr-defined]
