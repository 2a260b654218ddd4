"""users: accounts, password hashes (argon2id), e-mail verification and password reset."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask

from hotelbook_chassis import create_service_app
from hotelbook_chassis.config import peer_url, public_url
from hotelbook_users.actions.passwords import init_passwords
from hotelbook_users.actions.revocations import init_revocations
from hotelbook_users.api import blp
from hotelbook_users.models import db


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = create_service_app(
        __name__,
        service="users",
        title="hotelbook users",
        config=config,
        defaults={
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
        },
        db=db,
        blueprints=[blp],
    )
    init_passwords(app)
    init_revocations(app)
    return app
