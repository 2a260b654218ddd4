"""search's settings: where reservations answers availability, and how long search waits for it."""

from __future__ import annotations

from typing import Any

from hotelbook_chassis import topology
from hotelbook_chassis.config import env_bool, peer_url


def defaults() -> dict[str, Any]:
    """The service's configuration defaults; ``create_app(config)`` overrides any of them."""
    return {"RESERVATIONS_URL": peer_url("reservations"),
            "AVAILABILITY_TIMEOUT": topology.service("search").timeouts["reservations"],
            # Kept search answers (actions/answers.py); off measures the query path itself.
            "KEEP_ANSWERS": env_bool("SEARCH_KEEP_ANSWERS", True)}
