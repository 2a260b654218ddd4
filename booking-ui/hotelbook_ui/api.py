"""The UI's one JSON endpoint (documented in /openapi.json): city suggestions for the search box."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from hotelbook_chassis import Blueprint
from hotelbook_ui.clients import PeerError, PeerUnavailable, peers

blp = Blueprint("ui_api", __name__, description="JSON helpers of the booking pages")


class SuggestQuery(Schema):
    prefix = fields.String(load_default="", validate=validate.Length(max=50))


class CitySuggestion(Schema):
    name = fields.String(required=True)
    country = fields.String(required=True)


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
