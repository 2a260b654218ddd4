"""search's one outbound call: room availability from reservations."""

from __future__ import annotations

import logging
from datetime import date

from flask import Flask, current_app

from hotelbook_chassis import topology
from hotelbook_chassis.client import PeerUnavailable, ServiceClient, service_credentials
from hotelbook_chassis.config import peer_url

log = logging.getLogger(__name__)


def init_clients(app: Flask) -> None:
    tokens = service_credentials(app.config, " ".join(topology.service("search").scopes))
    # A slow reservations must not make search slow: short read timeout, no retries.
    app.extensions["search_reservations"] = ServiceClient(
        "reservations", app.config.get("RESERVATIONS_URL") or peer_url("reservations"), tokens=tokens,
        read_timeout=app.config.get("AVAILABILITY_TIMEOUT", 1.0), retries=0,
    )


def free_rooms(checkin: date, checkout: date, inventory: dict[str, int]) -> dict[str, int] | None:
    """Free rooms per room type for the whole stay, in one call; None when unknown."""
    if not inventory:
        return {}
    client: ServiceClient = current_app.extensions["search_reservations"]
    body = {"checkin": checkin.isoformat(), "checkout": checkout.isoformat(),
            "room_types": [{"room_type_id": rid, "rooms": rooms} for rid, rooms in inventory.items()]}
    try:
        response = client.post("/availability", json=body)
    except PeerUnavailable:
        log.warning("reservations unavailable: availability unknown")
        return None
    if response.status_code != 200:
        log.warning("availability refused: %s %s", response.status_code, response.text[:200])
        return None
    try:
        return {item["room_type_id"]: int(item["free"]) for item in response.json()["room_types"]}
    except (ValueError, KeyError, TypeError):
        log.warning("availability answer malformed")
        return None
