"""reservations' settings, from the environment: hold length and limit, peers, the sweep of overdue holds."""

from __future__ import annotations

import os
from typing import Any

from hotelbook_chassis.config import peer_url


def defaults() -> dict[str, Any]:
    """The service's configuration defaults; ``create_app(config)`` overrides any of them."""
    return {
        "HOLD_MINUTES": int(os.environ.get("HOLD_MINUTES", "15")),
        # Unpaid holds one guest may have at once (each hold is one room).
        "MAX_ACTIVE_HOLDS": int(os.environ.get("MAX_ACTIVE_HOLDS", "5")),
        "SEARCH_URL": peer_url("search"),
        "PAYMENTS_URL": peer_url("payments"),
        "USERS_URL": peer_url("users"),
        "PDF_REPORTING_URL": peer_url("pdf-reporting"),
        # Seconds between sweeps of overdue holds in each worker (0: only `flask sweep`).
        "HOUSEKEEPING_EVERY": float(os.environ.get("HOUSEKEEPING_EVERY", "30")),
    }
