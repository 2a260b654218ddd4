"""Periodic housekeeping (expire holds, reconcile payments) inside the service's own processes.

Each worker process runs a daemon thread that wakes every ``every`` seconds
(jittered, so workers do not wake together). A round first takes a lease that
no other process or instance can hold at the same time, so one round runs at a
time however many workers and replicas there are; the others skip theirs:

* PostgreSQL: a session advisory lock (``pg_try_advisory_lock``), released at
  the end of the round or when the holder's connection dies;
* SQLite: an exclusive ``flock`` on a file next to the database (every process
  using that database is on this host).

No process is started and nothing is imported per round; a round with nothing
to do is one lock attempt and the task's own (indexed) query.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import random
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import text

log = logging.getLogger(__name__)


def _lock_key(name: str) -> int:
    """A stable signed 64-bit key for ``pg_try_advisory_lock``."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


@contextlib.contextmanager
def lease(db: SQLAlchemy, name: str) -> Iterator[bool]:
    """Yield True when this process holds the ``name`` lease for the block, False when another one does."""
    engine = db.engine
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            key = _lock_key(name)
            held = bool(conn.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}))
            conn.commit()
            try:
                yield held
            finally:
                if held:
                    conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                    conn.commit()
        return
    database = engine.url.database
    folder = Path(database).parent if database and database != ":memory:" else Path.cwd()
    path = folder / f".{Path(database or 'memory').name}.{name}.lock"
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def run_once(app: Flask, db: SQLAlchemy, name: str, task: Callable[[], Any]) -> tuple[bool, Any]:
    """One round: (False, None) when another process holds the lease, else (True, the task's result)."""
    with app.app_context():
        try:
            with lease(db, name) as held:
                if not held:
                    return False, None
                return True, task()
        finally:
            db.session.remove()


def start_periodic(app: Flask, db: SQLAlchemy, name: str, every: float, task: Callable[[], Any]) -> threading.Event:
    """Run ``task`` (in an app context) every ``every`` seconds in a daemon thread; set the event to stop."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(every * random.uniform(0.75, 1.25)):
            try:
                ran, result = run_once(app, db, name, task)
                if ran and result:
                    log.info("%s: %s", name, result)
            except Exception:  # a failed round must not end the loop: the next one retries
                log.exception("%s round failed", name)

    threading.Thread(target=loop, name=f"housekeeping-{name}", daemon=True).start()
    app.extensions.setdefault("hotelbook_housekeeping", {})[name] = stop
    return stop
