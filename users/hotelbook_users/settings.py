"""users' settings, from the environment: public URL, argon2 costs, link lifetimes, the revocation outbox."""

from __future__ import annotations

import os
from typing import Any

from hotelbook_chassis.config import peer_url, public_url


def defaults() -> dict[str, Any]:
    """The service's configuration defaults; ``create_app(config)`` overrides any of them."""
    return {
        "PUBLIC_URL": public_url(),
        # OWASP's argon2id baseline; tests lower them.
        "ARGON2_TIME_COST": int(os.environ.get("ARGON2_TIME_COST", "2")),
        "ARGON2_MEMORY_COST": int(os.environ.get("ARGON2_MEMORY_COST", "19456")),
        "ARGON2_PARALLELISM": int(os.environ.get("ARGON2_PARALLELISM", "1")),
        "VERIFY_LINK_SECONDS": 2 * 24 * 3600,
        "RESET_LINK_SECONDS": 3600,
        # Where a guest's sessions are ended when the credentials change (see actions/revocations.py).
        "BOOKING_UI_URL": peer_url("booking-ui"),
        "REVOCATION_EVERY": float(os.environ.get("REVOCATION_EVERY", "2")),
        "REVOCATION_WORKER": os.environ.get("REVOCATION_WORKER", "1") == "1",
    }
