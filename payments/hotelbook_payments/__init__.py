"""payments: charges once per Idempotency-Key, confirms the reservation, and converges after failures."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask

from hotelbook_chassis import create_service_app
from hotelbook_payments.actions.worker import start_worker
from hotelbook_payments.api import blp
from hotelbook_payments.cli import init_cli
from hotelbook_payments.clients import init_clients
from hotelbook_payments.models import db
from hotelbook_payments.settings import defaults


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = create_service_app(
        __name__,
        service="payments",
        title="hotelbook payments",
        config=config,
        defaults=defaults(),
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
