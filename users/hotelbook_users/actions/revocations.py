"""Ending a guest's sessions elsewhere when their credentials change: an outbox.

A password reset or change, an e-mail change and a deletion must end every session of the
account: the refresh-token families at auth and the browser sessions at booking-ui. The
signal is written in the same transaction as the change (one row per peer), sent right after
the commit, and retried by a background thread until the peer says 200. A peer that is down
delays the signal; nothing loses it. Both peers' endpoints are idempotent.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta

import requests
from flask import Flask, current_app
from prometheus_client import Counter, Gauge
from sqlalchemy import delete, func, select

from hotelbook_chassis import topology
from hotelbook_chassis.client import PeerUnavailable, ServiceClient, service_credentials
from hotelbook_chassis.clock import utcnow
from hotelbook_users.models import SessionRevocation, db

log = logging.getLogger(__name__)

PEERS = ("auth", "booking-ui")
SCOPE = " ".join(topology.service("users").scopes)  # hotelbook_chassis/topology.toml
DELIVERED = Counter("session_revocations_total", "Session-revocation signals sent", ["peer", "outcome"])
PENDING = Gauge("session_revocations_pending", "Session-revocation signals waiting for their peer",
                multiprocess_mode="livemax")


def queue(user_id: str, reason: str) -> list[SessionRevocation]:
    """Add the signal for every peer to the current transaction (the caller commits)."""
    now = datetime.now(UTC)
    rows = [SessionRevocation(user_id=user_id, peer=peer, reason=reason, not_before_ms=int(now.timestamp() * 1000),
                              attempts=0, next_attempt_at=now.replace(tzinfo=None),
                              created_at=now.replace(tzinfo=None)) for peer in PEERS]
    db.session.add_all(rows)
    return rows


def backoff(attempts: int) -> float:
    """Seconds until the next try: 2, 4, 8 ... at most 5 minutes."""
    return float(min(2 ** attempts, 300))


def _client(peer: str) -> ServiceClient | None:
    clients: dict[str, ServiceClient] = current_app.extensions["users_revocation_clients"]
    return clients.get(peer)


def _send(row: SessionRevocation) -> bool:
    client = _client(row.peer)
    if client is None:
        log.error("no client for %s: CLIENT_ID/CLIENT_SECRET of users are not configured", row.peer)
        return False
    try:
        # Idempotent at the peer, so retrying a POST is safe.
        response = client.post("/session-revocations", json={"user_id": row.user_id,
                                                             "not_before": row.not_before_ms / 1000},
                               idempotency_key=f"session-revocation-{row.id}")
    except (PeerUnavailable, requests.RequestException, OSError, ValueError) as error:
        log.warning("session revocation to %s not delivered (%s); will retry", row.peer, type(error).__name__)
        return False
    if response.status_code == 200:
        return True
    log.warning("session revocation to %s answered %s; will retry", row.peer, response.status_code)
    return False


def deliver(rows: list[SessionRevocation] | None = None, *, limit: int = 100) -> dict[str, int]:
    """Send the given rows (or every due one); delete what was delivered, reschedule the rest."""
    if rows is None:
        now = utcnow()
        rows = list(db.session.scalars(select(SessionRevocation).where(SessionRevocation.next_attempt_at <= now)
                                       .order_by(SessionRevocation.id).limit(limit)))
    counts = {"delivered": 0, "pending": 0}
    for row in rows:
        if _send(row):
            # By id: a concurrent round may have sent and deleted it already, which is fine.
            db.session.execute(delete(SessionRevocation).where(SessionRevocation.id == row.id))
            DELIVERED.labels(row.peer, "delivered").inc()
            counts["delivered"] += 1
        else:
            row.attempts += 1
            row.next_attempt_at = utcnow() + timedelta(seconds=backoff(row.attempts))
            DELIVERED.labels(row.peer, "retry").inc()
            counts["pending"] += 1
        db.session.commit()
    PENDING.set(db.session.scalar(select(func.count()).select_from(SessionRevocation)) or 0)
    db.session.commit()
    return counts


def deliver_now(rows: list[SessionRevocation]) -> None:
    """Right after the change is committed; a failure only leaves the rows to the worker."""
    try:
        deliver(rows)
    except Exception:  # the change itself is done and committed: never fail the request here
        log.exception("session revocation round failed; the worker will retry")
        db.session.rollback()


def init_revocations(app: Flask) -> None:
    config = app.config
    read_timeouts = topology.service("users").timeouts
    clients: dict[str, ServiceClient] = {}
    tokens = service_credentials(config, SCOPE)
    if tokens is not None:
        clients = {"auth": ServiceClient("auth", config["AUTH_URL"], tokens=tokens, connect_timeout=1.0,
                                         read_timeout=read_timeouts["auth"]),
                   "booking-ui": ServiceClient("booking-ui", config["BOOKING_UI_URL"], tokens=tokens,
                                               connect_timeout=1.0, read_timeout=read_timeouts["booking-ui"])}
    app.extensions["users_revocation_clients"] = clients
    if not clients:
        log.warning("CLIENT_ID/CLIENT_SECRET not set: session revocations wait in the outbox until they are")
    elif config["REVOCATION_WORKER"] and not config.get("TESTING"):
        start_worker(app, config["REVOCATION_EVERY"])


def start_worker(app: Flask, every: float) -> threading.Thread:
    """A daemon thread per process that retries pending signals every few seconds."""

    def loop() -> None:
        while True:
            time.sleep(every)
            with app.app_context():
                try:
                    deliver()
                except Exception:  # a bad round must not kill the worker
                    log.exception("session revocation round failed")
                finally:
                    db.session.remove()

    thread = threading.Thread(target=loop, name="users-session-revocations", daemon=True)
    thread.start()
    return thread
