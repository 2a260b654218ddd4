"""Where everything of one running system lives: ports, ``var/`` folder, databases.

With ``replicas`` above one, every replicated service runs as that many instances,
``<name>.1``, ``<name>.2``..., each on a port of its own (``ports["search.2"]``). The
service's own port (``ports["search"]``) is then its *service address*: a listener of
the gateway's nginx that balances over the instances, as a Kubernetes Service does.
Peers, readiness checks and the tests keep calling that one address.
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from hotelbook_chassis.config import PORTS, env_name
from hotelbook_stack.services import BY_NAME, ROOT, SERVICES, Service

MAX_REPLICAS = 8


@dataclass
class Layout:
    var_dir: Path
    ports: dict[str, int] = field(default_factory=lambda: dict(PORTS))
    # PostgreSQL server URL (no database): each service gets its own database on it.
    postgres_url: str | None = None
    database_suffix: str = ""
    waf_mode: str = "block"
    limits_file: Path | None = None
    # Seconds between housekeeping rounds inside reservations and payments (sweep, reconcile);
    # None keeps the services' default, 0 turns them off (tests run them explicitly).
    housekeeping_every: float | None = None
    # Spans go to the local trace store unless OTEL_EXPORTER_OTLP_ENDPOINT points elsewhere.
    tracing: bool = True
    # Instances of every replicated service (1: each service answers on its own port itself).
    replicas: int = 1
    # Redis (HOST:PORT) holding the gateway's rate limit counters, so that a limit holds across
    # gateway instances; empty: each nginx counts in its own shared dict.
    limits_redis: str = ""

    def __post_init__(self) -> None:
        if not 1 <= self.replicas <= MAX_REPLICAS:
            raise ValueError(f"replicas: 1 to {MAX_REPLICAS}, not {self.replicas}")
        if not re.fullmatch(r"[a-z0-9_]{0,20}", self.database_suffix):
            raise ValueError(f"database suffix: lower-case letters, digits and _, not {self.database_suffix!r}")
        for service in SERVICES:
            for number, name in enumerate(self.instances(service), start=1):
                if name != service.name:
                    # make up: 8101 -> 8201, 8301, ...; the tests hand out free ports beforehand.
                    self.ports.setdefault(name, self.ports[service.name] + 100 * number)

    @classmethod
    def from_env(cls) -> Layout:
        return cls(
            var_dir=Path(os.environ.get("VAR_DIR", ROOT / "var")).resolve(),
            postgres_url=os.environ.get("POSTGRES_URL") or None,
            replicas=int(os.environ.get("REPLICAS") or 1),
            # Two systems on one PostgreSQL server: hotelbook_search_<suffix>... for the second.
            database_suffix=os.environ.get("DATABASE_SUFFIX", ""),
            limits_redis=os.environ.get("LIMITS_REDIS", ""),
        )

    def balanced(self, service: Service | str) -> bool:
        """True when the service runs as several instances behind its service address."""
        service = BY_NAME[service] if isinstance(service, str) else service
        return self.replicas > 1 and service.replicated

    def instances(self, service: Service | str) -> list[str]:
        """The process names of one service: ``["search"]``, or ``["search.1", "search.2"]``."""
        service = BY_NAME[service] if isinstance(service, str) else service
        if not self.balanced(service):
            return [service.name]
        return [f"{service.name}.{number}" for number in range(1, self.replicas + 1)]

    def instance_addresses(self, service: Service | str) -> list[str]:
        return [f"127.0.0.1:{self.ports[name]}" for name in self.instances(service)]

    @property
    def processes(self) -> list[tuple[str, Service]]:
        """Every service process to start: (process name, its service)."""
        return [(name, service) for service in SERVICES for name in self.instances(service)]

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    @property
    def gateway_url(self) -> str:
        return self.url("gateway")

    def database_name(self, service: Service) -> str:
        base = "bank" if service.name == "bank" else service.name
        return f"hotelbook_{base.replace('-', '_')}{self.database_suffix}"

    def database_url(self, service: Service) -> str:
        if self.postgres_url:
            return f"{self.postgres_url.rstrip('/')}/{self.database_name(service)}"
        return f"sqlite:///{self.var_dir / service.name}.db"

    def metrics_dir(self, process: str) -> Path:
        """Where one process's gunicorn workers keep their counters (one folder per instance)."""
        return self.var_dir / "metrics" / process

    @property
    def traces_dir(self) -> Path:
        return self.var_dir / "traces"

    @property
    def otlp_endpoint(self) -> str | None:
        """Where the services send spans: the configured endpoint, else the local store."""
        if not self.tracing or os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
            return None
        return os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or self.url("traces")

    def client_file(self, name: str) -> Path:
        return self.var_dir / "clients" / f"{name}.json"

    def client_credentials(self, name: str) -> dict[str, str]:
        path = self.client_file(name)
        return json.loads(path.read_text()) if path.exists() else {}

    def env(self, service: Service | str, instance: str | None = None) -> dict[str, str]:
        """The environment one service process (``instance``: one of several) runs with."""
        service = BY_NAME[service] if isinstance(service, str) else service
        env = {
            **os.environ,
            "PORT": str(self.ports[instance or service.name]),
            "VAR_DIR": str(self.var_dir),
            "DATABASE_URL": self.database_url(service),
            "OAUTH_ISSUER": self.gateway_url,
            "PUBLIC_URL": self.gateway_url,
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(self.ports["smtp"]),
            "WEB_CONCURRENCY": str(service.workers),
            "THREADS": str(service.threads),
            "PROMETHEUS_MULTIPROC_DIR": str(self.metrics_dir(instance or service.name)),
            "PYTHONUNBUFFERED": "1",
        }
        if self.housekeeping_every is not None:
            env["HOUSEKEEPING_EVERY"] = str(self.housekeeping_every)
        for other in SERVICES:
            env[f"{env_name(other.name)}_URL"] = self.url(other.name)
        if self.otlp_endpoint:
            env["OTEL_EXPORTER_OTLP_ENDPOINT"] = self.otlp_endpoint
            # Spans leave within half a second, so a trace is complete soon after the answer.
            env.setdefault("OTEL_BSP_SCHEDULE_DELAY", "500")
        credentials = self.client_credentials(service.name)
        if credentials:
            env["CLIENT_ID"] = credentials["client_id"]
            env["CLIENT_SECRET"] = credentials.get("client_secret", "")
        return env

    def gunicorn_command(self, service: Service) -> list[str]:
        return [sys.executable, "-m", "gunicorn", "-c", "python:hotelbook_chassis.gunicorn_conf", service.app]

    def flask_command(self, app: str, *args: str) -> list[str]:
        return [sys.executable, "-m", "flask", "--app", app, *args]
