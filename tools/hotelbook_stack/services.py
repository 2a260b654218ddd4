"""The processes of the system and where their code is.

Ports, peers, OAuth clients and timeouts come from the topology
(hotelbook_chassis/topology.toml); this list adds what running the code needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hotelbook_chassis import topology

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Service:
    name: str
    package: str
    folder: str
    app: str  # gunicorn application spec
    # One gunicorn worker (4 threads) per service for make up and the system tests: on a 2-core
    # machine more processes cost memory, boot time and context switches, not throughput
    # (measure with `python bench/load.py --workers N`).
    workers: int = 1
    # Threads of each worker (gunicorn gthread, THREADS): a request holds one for its whole time,
    # also while it waits on a peer, the bank or the database; beyond them requests queue unseen.
    threads: int = 4
    has_database: bool = True
    # Runs as several instances under `make up REPLICAS=N`: it keeps nothing in its process that
    # another instance would need (state lives in its database). The bank sandbox stands for an
    # outside party and stays one.
    replicated: bool = True

    @property
    def node(self) -> topology.ServiceNode:
        return topology.service(self.name)

    @property
    def port(self) -> int:
        return self.node.port

    @property
    def peers(self) -> tuple[str, ...]:
        return self.node.peers

    @property
    def client(self) -> tuple[str, str] | None:
        """The service's own OAuth client: (grants, scopes); None when it calls no one."""
        return self.node.client

    @property
    def flask_apps(self) -> tuple[str, ...]:
        """The Flask apps whose databases ``flask db upgrade`` migrates."""
        return (self.package,) if self.has_database else ()


SERVICES: tuple[Service, ...] = (
    # auth and users carry the log-ins (users hashes with argon2, auth waits on it): a second
    # worker keeps a burst of log-ins from filling one worker's threads.
    Service("auth", "hotelbook_auth", "auth", "hotelbook_auth:create_app()", workers=2),
    # users ends a guest's sessions at auth and booking-ui when the credentials change.
    Service("users", "hotelbook_users", "users", "hotelbook_users:create_app()", workers=2),
    # search and reservations call each other (a dated search asks for availability, a hold for the
    # hotel): with four threads each, a burst could fill both with calls waiting on the other until
    # search's 1 s availability timeout (searches answered "availability unknown"). Eight each:
    # bench/load.py --users 24: 40 such searches with four, none with eight.
    Service("search", "hotelbook_search", "search", "hotelbook_search:create_app()", threads=8),
    Service("pdf-reporting", "hotelbook_pdf", "pdf-reporting", "hotelbook_pdf:create_app()", has_database=False),
    Service("reservations", "hotelbook_reservations", "reservations", "hotelbook_reservations:create_app()",
            threads=8),
    # The bank sandbox plays the outside bank: a project of its own (bank-sandbox/).
    Service("bank", "hotelbook_bank", "bank-sandbox", "hotelbook_bank:create_app()", replicated=False),
    # A payment holds its thread through three calls in a row (reservations, the bank, the confirm):
    # at 30 bookings/s, four threads were all busy when a third of the payments arrived, which then
    # queued before any of its code ran (bench/load.py --rate 30: pay p99 310-1,000 ms with 4, 86 with 8).
    Service("payments", "hotelbook_payments", "payments", "hotelbook_payments:create_app()", threads=8),
    Service("booking-ui", "hotelbook_ui", "booking-ui", "hotelbook_ui:create_app()"),
)

BY_NAME = {service.name: service for service in SERVICES}

# An admin client for catalogue writes: registered only when asked for (the test
# suites call bootstrap.register_admin_client; by hand: `make client`).
ADMIN_CLIENT = ("catalogue-admin", *topology.load().clients["catalogue-admin"])
