"""payments: charges once per Idempotency-Key, confirms the reservation, and converges after failures."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask

from hotelbook_chassis import create_service_app, topology
from hotelbook_chassis.config import peer_url, public_url
from hotelbook_payments.actions.worker import start_worker
from hotelbook_payments.api import blp
from hotelbook_payments.cli import init_cli
from hotelbook_payments.clients import init_clients
from hotelbook_payments.models import db


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = create_service_app(
        __name__,
        service="payments",
        title="hotelbook payments",
        config=config,
        defaults={
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
        },
        db=db,
        blueprints=[blp],
    )
    init_clients(app)
    if os.environ.get("PAYMENTS_FAULT"):
        from hotelbook_payments.actions.faults import install

        install(os.environ["PAYMENTS_FAULT"])
    if app.config["OUTBOX_WORKER"] and not app.config.get("TESTING"):
        start_worker(app, app.config["OUTBOX_EVERY"])
    if app.config["HOUSEKEEPING_EVERY"] > 0 and not app.config.get("TESTING"):
        from hotelbook_chassis.housekeeping import start_periodic
        from hotelbook_payments.actions import reconcile

        def reconcile_round() -> dict[str, int] | None:
            # Due jobs only: a job in a live worker's hands is leased into the future,
            # and taking every job would run it a second time beside that worker.
            done = reconcile(every_job=False)
            return done if any(done.values()) else None

        start_periodic(app, db, "payments-reconcile", app.config["HOUSEKEEPING_EVERY"], reconcile_round)

    init_cli(app)
    return app
