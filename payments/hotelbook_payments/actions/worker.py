"""The outbox worker: a daemon thread per process, draining due jobs every few seconds."""

from __future__ import annotations

import logging
import threading

from flask import Flask

from hotelbook_chassis.clock import utcnow

log = logging.getLogger(__name__)


def measure_outbox() -> None:
    """Outbox lag and backlog for /metrics: how long the oldest unfinished job has waited."""
    from sqlalchemy import func, select

    from hotelbook_payments.actions.metrics import OUTBOX_LAG, OUTBOX_PENDING
    from hotelbook_payments.models import OutboxJob, db

    oldest, pending = db.session.execute(
        select(func.min(func.coalesce(OutboxJob.created_at, OutboxJob.next_attempt_at)), func.count())
        .where(OutboxJob.done_at.is_(None))).one()
    db.session.rollback()
    OUTBOX_PENDING.set(pending)
    if oldest is None:
        OUTBOX_LAG.set(0)
    else:
        OUTBOX_LAG.set(max(0.0, (utcnow() - oldest).total_seconds()))


def start_worker(app: Flask, every: float) -> threading.Thread:
    from hotelbook_payments.actions import drain
    from hotelbook_payments.models import db

    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(every):
            with app.app_context():
                try:
                    drain()
                    measure_outbox()
                except Exception:  # a bad round must not kill the worker
                    log.exception("outbox round failed")
                finally:
                    db.session.remove()

    thread = threading.Thread(target=loop, name="payments-outbox", daemon=True)
    thread.start()
    app.extensions["payments_outbox_stop"] = stop
    return thread
