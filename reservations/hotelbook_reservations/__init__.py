"""reservations: holds that never overbook, confirmations, cancellations and receipts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from hotelbook_chassis import create_service_app
from hotelbook_chassis.config import peer_url
from hotelbook_reservations.api import blp
from hotelbook_reservations.cli import init_cli
from hotelbook_reservations.clients import init_clients
from hotelbook_reservations.models import db


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    import os

    app = create_service_app(
        __name__,
        service="reservations",
        title="hotelbook reservations",
        config=config,
        defaults={
            "HOLD_MINUTES": int(os.environ.get("HOLD_MINUTES", "15")),
            # Unpaid holds one guest may have at once (each hold is one room).
            "MAX_ACTIVE_HOLDS": int(os.environ.get("MAX_ACTIVE_HOLDS", "5")),
            "SEARCH_URL": peer_url("search"),
            "PAYMENTS_URL": peer_url("payments"),
            "USERS_URL": peer_url("users"),
            "PDF_REPORTING_URL": peer_url("pdf-reporting"),
            # Seconds between sweeps of overdue holds in each worker (0: only `flask sweep`).
            "HOUSEKEEPING_EVERY": float(os.environ.get("HOUSEKEEPING_EVERY", "30")),
        },
        db=db,
        blueprints=[blp],
    )
    init_clients(app)
    if app.config["HOUSEKEEPING_EVERY"] > 0 and not app.config.get("TESTING"):
        from hotelbook_chassis.housekeeping import start_periodic
        from hotelbook_reservations.actions import sweep

        def sweep_round() -> str | None:
            count = sweep()
            return f"expired {count} holds" if count else None

        start_periodic(app, db, "reservations-sweep", app.config["HOUSEKEEPING_EVERY"], sweep_round)
    init_cli(app)

    return app
