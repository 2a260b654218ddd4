"""payments' settings, from the environment: peers, the bank's timeout, the outbox and reconcile rounds."""

from __future__ import annotations

import os
from typing import Any

from hotelbook_chassis import topology
from hotelbook_chassis.config import peer_url, public_url


def defaults() -> dict[str, Any]:
    """The service's configuration defaults; ``create_app(config)`` overrides any of them."""
    return {
        "BANK_URL": peer_url("bank"),
        "RESERVATIONS_URL": peer_url("reservations"),
        "USERS_URL": peer_url("users"),
        # Where guests open the site: the receipt link in the confirmation e-mail points there.
        "PUBLIC_URL": public_url(),
        "BANK_TIMEOUT": float(os.environ.get("BANK_TIMEOUT", topology.service("payments").timeouts["bank"])),
        "OUTBOX_EVERY": float(os.environ.get("OUTBOX_EVERY", "2")),
        "OUTBOX_WORKER": os.environ.get("OUTBOX_WORKER", "1") == "1",
        # Seconds between reconcile rounds in each worker (0: only `flask reconcile`).
        "HOUSEKEEPING_EVERY": float(os.environ.get("HOUSEKEEPING_EVERY", "30")),
    }
