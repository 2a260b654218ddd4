"""The system's topology (``topology.toml`` beside this module), read once.

Ports, gateway routes, peers, OAuth scopes and timeouts of every service live in
that one file; this module only reads it. Standard library only: nginx/render.py
and the tests read the same file without the chassis's dependencies.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

FILE = Path(__file__).with_name("topology.toml")


@dataclass(frozen=True)
class Route:
    """How the gateway exposes a service."""

    prefixes: tuple[str, ...]
    strip: bool
    read_timeout: int | None = None  # None: the gateway's default


@dataclass(frozen=True)
class ServiceNode:
    name: str
    port: int
    route: Route | None = None
    peers: tuple[str, ...] = ()
    grants: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
    accepts: tuple[str, ...] = ()
    timeouts: dict[str, float] = field(default_factory=dict)
    longest_request: float | None = None

    @property
    def client(self) -> tuple[str, str] | None:
        """``(grants, scopes)`` of the service's own OAuth client, space-separated; None without one."""
        return (" ".join(self.grants), " ".join(self.scopes)) if self.grants else None


@dataclass(frozen=True)
class Topology:
    gateway_port: int
    gateway_metrics_port: int
    gateway_read_timeout: int
    support_ports: dict[str, int]
    services: dict[str, ServiceNode]
    scopes: dict[str, str]  # scope -> what it allows, in publishing order
    clients: dict[str, tuple[str, str]]  # clients that are no service: name -> (grants, scopes)

    @property
    def ports(self) -> dict[str, int]:
        """Every process's default port: the gateway, the services, the development helpers."""
        return {"gateway": self.gateway_port, **{name: s.port for name, s in self.services.items()},
                **self.support_ports, "gateway-metrics": self.gateway_metrics_port}

    @property
    def routes(self) -> dict[str, Route]:
        """The services behind the gateway, in the file's order."""
        return {name: s.route for name, s in self.services.items() if s.route is not None}

    def gateway_timeout(self, name: str) -> int:
        route = self.services[name].route
        return route.read_timeout if route and route.read_timeout else self.gateway_read_timeout

    def scope_audiences(self) -> dict[str, tuple[str, ...]]:
        """Each scope and the services that accept it (the token's ``aud``), sorted."""
        return {scope: tuple(sorted(name for name, s in self.services.items() if scope in s.accepts))
                for scope in self.scopes}

    def read_timeout(self, caller: str, callee: str, default: float) -> float:
        return float(self.services[caller].timeouts.get(callee, default))


def parse(data: dict[str, Any]) -> Topology:
    services = {}
    for name, entry in data["services"].items():
        gateway = entry.get("gateway")
        route = Route(tuple(gateway["prefixes"]), bool(gateway["strip"]), gateway.get("read_timeout")) \
            if gateway else None
        services[name] = ServiceNode(
            name=name, port=int(entry["port"]), route=route, peers=tuple(entry.get("peers", ())),
            grants=tuple(entry.get("grants", ())), scopes=tuple(entry.get("scopes", ())),
            accepts=tuple(entry.get("accepts", ())),
            timeouts={peer: float(value) for peer, value in entry.get("timeouts", {}).items()},
            longest_request=entry.get("longest_request"))
    gateway = data["gateway"]
    return Topology(gateway_port=int(gateway["port"]), gateway_metrics_port=int(gateway["metrics_port"]),
                    gateway_read_timeout=int(gateway["read_timeout"]), support_ports=dict(data.get("support", {})),
                    services=services, scopes=dict(data["scopes"]),
                    clients={name: (" ".join(entry["grants"]), " ".join(entry["scopes"]))
                             for name, entry in data.get("clients", {}).items()})


@cache
def load(path: Path = FILE) -> Topology:
    with path.open("rb") as handle:
        return parse(tomllib.load(handle))


def service(name: str) -> ServiceNode:
    return load().services[name]
