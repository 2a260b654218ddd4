"""Fixtures of the cross-service suites: the whole system as real processes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import URL, make_url

from hotelbook_chassis.testing import require_or_skip
from hotelbook_stack.bootstrap import gateway_available
from hotelbook_stack.running import RunningSystem

ARTIFACTS = Path(__file__).parent / "artifacts"


def postgres_server_url() -> str | None:
    """``TEST_DATABASE_URL`` names a server; each service gets its own database on it."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        return None
    parts = make_url(url)
    server = URL.create(parts.drivername, parts.username, parts.password, parts.host, parts.port)
    return server.render_as_string(hide_password=False)


# Short bank delays so the slow-card and crash scenarios take seconds, not minutes.
SYSTEM_ENV = {"BANK_SLOW_SECONDS": "3", "BANK_TIMEOUT": "5", "OUTBOX_EVERY": "1"}


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSystem]:
    require_or_skip(gateway_available(), "nginx with the Lua module")
    for name, value in SYSTEM_ENV.items():
        os.environ.setdefault(name, value)
    system = RunningSystem(tmp_path_factory.mktemp("var"), postgres_url=postgres_server_url())
    system.screenshots = ARTIFACTS / "screenshots"  # type: ignore[attr-defined]
    system.screenshots.mkdir(parents=True, exist_ok=True)  # type: ignore[attr-defined]
    try:
        system.start_all()
        yield system
    except BaseException:
        for name in system.processes:
            print(f"--- {name} log ---\n{system.logs(name)[-3000:]}")
        raise
    finally:
        system.close()
