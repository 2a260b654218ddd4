"""Two instances of every service on PostgreSQL, behind the gateway and the service addresses."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from hotelbook_chassis.testing import require_or_skip
from hotelbook_stack.bootstrap import gateway_available
from hotelbook_stack.running import RunningSystem
from tests.conftest import SYSTEM_ENV, postgres_server_url

REPLICAS = 2


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSystem]:
    require_or_skip(gateway_available(), "nginx with the Lua module")
    server = postgres_server_url()
    require_or_skip(server is not None, "PostgreSQL (TEST_DATABASE_URL)")
    for name, value in SYSTEM_ENV.items():
        os.environ.setdefault(name, value)
    # Housekeeping on, as under make up, but often: every instance's sweep and reconcile
    # rounds compete for their leases during the kills.
    system = RunningSystem(tmp_path_factory.mktemp("var"), postgres_url=server, replicas=REPLICAS,
                           housekeeping_every=2)
    try:
        system.start_all()
        yield system
    except BaseException:
        for name in system.processes:
            print(f"--- {name} log ---\n{system.logs(name)[-3000:]}")
        raise
    finally:
        system.close()
