"""``POST /session-revocations``: users ends a guest's sessions at auth.

Called when the password is reset or changed, the e-mail address changes, or the account is
deleted. Service-only (scope ``sessions:revoke``, held by users alone); not routed by the
gateway. auth verifies the token against its own keys: it is the issuer.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Flask, current_app

from hotelbook_auth.actions.keys import KeyStore
from hotelbook_auth.actions.oauth import revoke_user_sessions
from hotelbook_auth.schemas import SessionRevocationIn, SessionRevocationOut
from hotelbook_chassis import Blueprint, Problem
from hotelbook_chassis.tokens import JWKSCache, TokenVerifier

blp = Blueprint("sessions", __name__, description="Ending a guest's sessions (users, scope sessions:revoke)")

# A cut-off may lie a little ahead of auth's clock (two hosts), never far: it would end
# the sessions the guest starts next.
FUTURE_LEEWAY_SECONDS = 300


@blp.post("/session-revocations")
@blp.requires("sessions:revoke")
@blp.arguments(SessionRevocationIn)
@blp.response(200, SessionRevocationOut)
def revoke_sessions(body: dict[str, Any]) -> dict[str, Any]:
    """End every refresh-token family of the user that started at or before ``not_before``.

    Idempotent: users retries until it gets a 200, and a repeat ends nothing new.
    """
    if body["not_before"] > time.time() + FUTURE_LEEWAY_SECONDS:
        raise Problem(400, "not_before lies in the future.", type="validation-error",
                      invalid_params=[{"name": "not_before", "reason": "in the future"}])
    if not body["user_id"].isprintable():
        raise Problem(400, "user_id is not valid.", type="validation-error",
                      invalid_params=[{"name": "user_id", "reason": "not printable"}])
    count = revoke_user_sessions(body["user_id"], int(body["not_before"] * 1000))
    current_app.logger.info("sessions ended: %d refresh-token families", count)
    return {"user_id": body["user_id"], "families_revoked": count}


def init_own_token_verifier(app: Flask, keys: KeyStore) -> None:
    """Service tokens sent to auth are checked against auth's own keys (no JWKS fetch from itself)."""
    app.extensions["hotelbook_tokens"] = TokenVerifier(
        JWKSCache(keys.jwks, ttl_seconds=60, min_refetch_seconds=0, service="auth"),
        issuer=app.config["OAUTH_ISSUER"], audience="auth",
    )
