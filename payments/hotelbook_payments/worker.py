"""The outbox worker: a daemon thread per process, draining due jobs every few seconds."""

from __future__ import annotations

import logging
import threading

from flask import Flask

log = logging.getLogger(__name__)


def start_worker(app: Flask, every: float) -> threading.Thread:
    from hotelbook_payments.models import db
    from hotelbook_payments.saga import drain

    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(every):
            with app.app_context():
                try:
                    drain()
                except Exception:  # a bad round must not kill the worker
                    log.exception("outbox round failed")
                finally:
                    db.session.remove()

    thread = threading.Thread(target=loop, name="payments-outbox", daemon=True)
    thread.start()
    app.extensions["payments_outbox_stop"] = stop
    return thread
