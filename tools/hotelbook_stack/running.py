"""The whole system started as real processes on free ports, for cross-service tests."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

from hotelbook_chassis.smtp_sink import MailStore, start_sink
from hotelbook_chassis.testing import ServiceProcess, free_port
from hotelbook_chassis.trace_store import TraceStore, start_receiver
from hotelbook_stack import bootstrap as steps
from hotelbook_stack.layout import Layout
from hotelbook_stack.readiness import service_token
from hotelbook_stack.services import ADMIN_CLIENT, BY_NAME, ROOT, SERVICES

# Generous limits: the tests send many requests from one address.
TEST_LIMITS = ROOT / "tests" / "gateway_limits.json"


class RunningSystem:
    """Every service under gunicorn, the gateway, and an SMTP sink whose mail the tests read."""

    def __init__(self, var_dir: Path, *, postgres_url: str | None = None, hotels: int = 200,
                 housekeeping_every: float = 0, replicas: int = 1) -> None:
        names = [*BY_NAME, "gateway", "gateway-metrics", "smtp", "traces"]
        if replicas > 1:  # every instance on a free port of its own; the service's port is its address
            names += [f"{s.name}.{n}" for s in SERVICES if s.replicated for n in range(1, replicas + 1)]
        ports = {name: free_port() for name in names}
        # Housekeeping off by default: the tests run sweep and reconcile when they mean to.
        self.layout = Layout(var_dir=var_dir, ports=ports, postgres_url=postgres_url,
                             database_suffix=f"_{uuid.uuid4().hex[:8]}" if postgres_url else "",
                             limits_file=TEST_LIMITS if TEST_LIMITS.exists() else None,
                             housekeeping_every=housekeeping_every, replicas=replicas)
        self.hotels = hotels
        self.processes: dict[str, ServiceProcess] = {}
        self.gateway: subprocess.Popen[bytes] | None = None
        self.mail: MailStore
        self._smtp: Any = None
        self._traces: Any = None
        self.traces: TraceStore
        self._tokens: dict[tuple[str, str], tuple[str, float]] = {}

    @property
    def gateway_url(self) -> str:
        return self.layout.gateway_url

    def url(self, name: str) -> str:
        return self.layout.url(name)

    # --- lifecycle ---------------------------------------------------------------

    def start_all(self) -> RunningSystem:
        # What the system writes (databases, secrets, mail, logs) is for the owner only.
        self._umask = os.umask(0o077)
        self._smtp, self.mail = start_sink("127.0.0.1", self.layout.ports["smtp"])
        self._traces, self.traces = start_receiver("127.0.0.1", self.layout.ports["traces"],
                                                   self.layout.traces_dir)
        self._start_services()
        return self

    def _start_services(self) -> None:
        """Bootstrap, every service process (each instance), the gateway; returns when all are ready."""
        steps.bootstrap(self.layout, hotels=self.hotels)
        steps.register_admin_client(self.layout)  # create_hotel writes the catalogue with it
        balanced = self.layout.replicas > 1
        if balanced:
            # The gateway first: it also holds the service addresses the instances call each other at.
            self._start_gateway()
        for name, _service in self.layout.processes:
            self.processes[name] = self._process(name)
        for process in self.processes.values():
            process.start_nowait()
        for process in self.processes.values():
            process.wait_ready(180)
        # Before the gateway starts (or reloads): it reads the document at start-up.
        steps.publish_public_openapi(self.layout)
        if balanced:
            self._reload_gateway()
        else:
            self._start_gateway()

    def instances(self, service: str) -> list[str]:
        """The process names of one service: ``["search"]``, or ``["search.1", "search.2"]``."""
        return self.layout.instances(service)

    def _process(self, name: str, extra_env: dict[str, str] | None = None) -> ServiceProcess:
        service = dict(self.layout.processes)[name]
        env = {**self.layout.env(service, name), **(extra_env or {})}
        self.layout.metrics_dir(name).mkdir(parents=True, exist_ok=True)
        return ServiceProcess(service.app, env, workers=service.workers, cwd=ROOT, name=name,
                              port=self.layout.ports[name])

    def _reload_gateway(self) -> None:
        """HUP the gateway and wait until its new workers serve the public document."""
        if not steps.reload_gateway(self.layout):
            raise RuntimeError("gateway reload failed")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{self.gateway_url}/api/openapi.json", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError("gateway did not reload")

    def _start_gateway(self) -> None:
        prefix = steps.render_gateway(self.layout)
        if prefix is None:
            raise RuntimeError(steps.GATEWAY_INSTALL_HINT)
        log = (prefix / "gateway.out").open("ab")
        self.gateway = subprocess.Popen(["nginx", "-p", str(prefix), "-c", "nginx.conf", "-g", "daemon off;"],
                                        stdout=log, stderr=log)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                requests.get(f"{self.gateway_url}/api/search/healthz", timeout=1)
                return
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError("gateway did not start")

    def stop(self, name: str) -> None:
        self.processes[name].stop()

    def kill(self, name: str) -> None:
        """``kill -9`` one process (a service, or one instance: ``search.2``): master and workers, no cleanup."""
        self.processes[name].kill_hard()

    def start(self, name: str, extra_env: dict[str, str] | None = None, *, wait: bool = True) -> None:
        self.processes[name] = self._process(name, extra_env)
        if not wait:
            self.processes[name].start_nowait()
            return
        # Generous: on a loaded machine (CI shares its cores) a restart can take over 30 s to boot.
        self.processes[name].start(timeout=120)

    def restart(self, name: str) -> None:
        self.stop(name)
        self.start(name)

    def close(self) -> None:
        if self.gateway and self.gateway.poll() is None:
            self.gateway.send_signal(signal.SIGQUIT)
            try:
                self.gateway.wait(10)
            except subprocess.TimeoutExpired:
                self.gateway.kill()
        # All at once: each may take seconds to finish its requests (15 processes with replicas).
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda process: process.stop(), list(self.processes.values())))
        if self._smtp:
            self._smtp.stop()
        if self._traces:
            self._traces.shutdown()
        steps.drop_databases(self.layout)
        if getattr(self, "_umask", None) is not None:
            os.umask(self._umask)

    # --- helpers for tests -------------------------------------------------------

    def token(self, client: str, scope: str) -> str:
        """A service token, fetched again well before it expires (tokens live minutes)."""
        key = (client, scope)
        token, fetched = self._tokens.get(key, ("", 0.0))
        if time.monotonic() - fetched > 120:
            token = service_token(self.layout, client, scope)
            self._tokens[key] = (token, time.monotonic())
        return token

    def flask(self, service: str, app: str, *args: str) -> str:
        return steps.run(self.layout, BY_NAME[service], app, *args)

    def create_hotel(self, city: str = "Zürich", rooms: int = 1, nightly_price: int = 12000,
                     capacity: int = 2, name: str | None = None,
                     cancellation_policy: dict[str, Any] | None = None) -> dict[str, Any]:
        """A hotel with one room type, created through search's admin API (policy: search's default)."""
        token = self.token(ADMIN_CLIENT[0], "search:write")
        body = {
            "name": name or f"Test Hotel {uuid.uuid4().hex[:6]}",
            "city": city,
            "country": "CH",
            "address": "Bahnhofstrasse 1",
            "stars": 4,
            "description": "A quiet hotel for tests.",
            "amenities": ["wifi"],
            "room_types": [{"name": "Double", "capacity": capacity,
                            "nightly_price": {"amount": nightly_price, "currency": "EUR"}, "rooms": rooms,
                            **({"cancellation_policy": cancellation_policy} if cancellation_policy else {})}],
        }
        response = requests.post(f"{self.url('search')}/hotels", json=body,
                                 headers={"Authorization": f"Bearer {token}"}, timeout=10)
        if response.status_code != 201:
            raise RuntimeError(f"create hotel: {response.status_code} {response.text}")
        return response.json()

    def logs(self, name: str) -> str:
        return self.processes[name].log_tail(20000)


def dump_json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)
