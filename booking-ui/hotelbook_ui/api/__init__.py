"""The UI's JSON endpoints (documented in /openapi.json): city suggestions for the search box, and
users' signal that ends a guest's browser sessions."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from hotelbook_chassis import Blueprint, Problem
from hotelbook_ui.actions.sessions import end_sessions_of
from hotelbook_ui.clients import PeerError, PeerUnavailable, peers
from hotelbook_ui.schemas import CitySuggestion, SessionRevocationIn, SessionRevocationOut, SuggestQuery

log = logging.getLogger("hotelbook.ui.api")
# A cut-off may lie a little ahead of this host's clock (users runs elsewhere), never far.
FUTURE_LEEWAY_SECONDS = 300

blp = Blueprint("ui_api", __name__, description="JSON helpers of the booking pages")


@blp.get("/suggest/cities")
@blp.arguments(SuggestQuery, location="query")
@blp.response(200, CitySuggestion(many=True))
def suggest_cities(query: dict[str, Any]) -> list[dict[str, str]]:
    """Up to 10 cities starting with ``prefix`` (proxies search ``GET /cities``; empty when search is down)."""
    prefix = query["prefix"].strip()
    if not prefix:
        return []
    try:
        cities = peers().cities(prefix)
    except (PeerUnavailable, PeerError):
        return []  # autocomplete is a convenience: the form works without it
    out = [{"name": str(c["name"]), "country": str(c.get("country") or "")}
           for c in cities if isinstance(c, dict) and c.get("name")]
    return out[:10]


@blp.post("/session-revocations")
@blp.requires("sessions:revoke")
@blp.arguments(SessionRevocationIn)
@blp.response(200, SessionRevocationOut)
def revoke_sessions(body: dict[str, Any]) -> dict[str, Any]:
    """End every browser session of the user logged in at or before ``not_before`` (users calls it
    after a password reset or change, an e-mail change or a deletion). Service-only: scope
    ``sessions:revoke``, held by users alone. Idempotent."""
    if not body["user_id"].isprintable():
        raise Problem(400, "user_id is not valid.", type="validation-error",
                      invalid_params=[{"name": "user_id", "reason": "not printable"}])
    if body["not_before"] > time.time() + FUTURE_LEEWAY_SECONDS:
        # It would end the sessions the guest starts next (and far ones are no date at all).
        raise Problem(400, "not_before lies in the future.", type="validation-error",
                      invalid_params=[{"name": "not_before", "reason": "in the future"}])
    cutoff = datetime.fromtimestamp(body["not_before"], UTC)
    ended = end_sessions_of(body["user_id"], cutoff)
    log.info("browser sessions ended: %d", ended)
    return {"user_id": body["user_id"], "sessions_ended": ended}
