"""The one clock of every service: naive UTC datetimes (how the tables store time) and epoch counts.

Tests that move time patch the name where it is used (``monkeypatch.setattr(module, "utcnow", ...)``).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime


def utcnow() -> datetime:
    """Now in UTC, without tzinfo: the form every service's DateTime columns hold."""
    return datetime.now(UTC).replace(tzinfo=None)


def now_seconds() -> int:
    """Whole seconds since the epoch (JWT ``iat``/``exp``, stored expiries)."""
    return int(time.time())


def now_ms() -> int:
    """Milliseconds since the epoch."""
    return int(time.time() * 1000)
