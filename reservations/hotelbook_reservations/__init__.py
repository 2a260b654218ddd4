"""reservations: holds that never overbook, confirmations, cancellations and receipts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from hotelbook_chassis import create_service_app
from hotelbook_reservations.api import blp
from hotelbook_reservations.cli import init_cli
from hotelbook_reservations.clients import init_clients
from hotelbook_reservations.models import db
from hotelbook_reservations.settings import defaults


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = create_service_app(
        __name__,
        service="reservations",
        title="hotelbook reservations",
        config=config,
        defaults=defaults(),
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
