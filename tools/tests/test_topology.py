"""The topology (chassis/src/hotelbook_chassis/topology.toml) against the code.

The scopes each service asks for are the ones its peers' endpoints require, the
scopes a service accepts are the ones its endpoints check, its peers are the
services its code calls, and the timeout chain of a payment stays ordered.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hotelbook_chassis import topology
from hotelbook_stack.services import BY_NAME, ROOT, SERVICES

TOPOLOGY = topology.load()
REQUIRES = re.compile(r"\brequires\(([^)]*)\)")
PEER_CALLS = (re.compile(r"\bServiceClient\(\s*\"([\w-]+)\""), re.compile(r"\bpeer_url\(\s*\"([\w-]+)\"\s*\)"))
PEER_URL_SETTING = re.compile(r"\[\"([A-Z_]+)_URL\"\]")  # config["AUTH_URL"]: a peer's base URL


def package_folder(name: str) -> Path:
    service = BY_NAME[name]
    return ROOT / service.folder / service.package.replace(".", "/")


def source(name: str) -> str:
    """The service's own code: no tests, no migrations, no other service nested in its folder."""
    folder = package_folder(name)
    nested = [package_folder(other) for other in BY_NAME if other != name]
    nested = [path for path in nested if folder in path.parents]
    files = [path for path in sorted(folder.rglob("*.py"))
             if not {"tests", "migrations"} & set(path.relative_to(folder).parts)
             and not any(inner in path.parents for inner in nested)]
    return "\n".join(path.read_text() for path in files)


def test_the_process_list_is_the_topology() -> None:
    assert [s.name for s in SERVICES if s.name not in TOPOLOGY.services] == []
    assert [name for name in TOPOLOGY.services if name not in BY_NAME] == []


def test_ports_and_paths_are_the_contract() -> None:
    """ARCHITECTURE.md fixes them: the topology holds them, it does not change them."""
    assert TOPOLOGY.ports == {
        "gateway": 8080, "booking-ui": 8100, "search": 8101, "reservations": 8102, "payments": 8103,
        "users": 8104, "auth": 8105, "pdf-reporting": 8106, "bank": 8190, "smtp": 8025,
        "traces": 4318, "gateway-metrics": 9145,
    }
    routes = {name: (route.prefixes, route.strip) for name, route in TOPOLOGY.routes.items()}
    assert routes == {
        "booking-ui": (("/",), False),
        "search": (("/api/search/",), True),
        "reservations": (("/api/reservations/",), True),
        "payments": (("/api/payments/",), True),
        "users": (("/api/users/",), True),
        "auth": (("/oauth/", "/.well-known/"), False),
    }


@pytest.mark.parametrize("name", sorted(TOPOLOGY.services))
def test_a_service_accepts_the_scopes_its_endpoints_require(name: str) -> None:
    required = {scope for args in REQUIRES.findall(source(name)) for scope in re.findall(r"\"([^\"]+)\"", args)}
    assert set(TOPOLOGY.services[name].accepts) == required


@pytest.mark.parametrize("name", sorted(TOPOLOGY.services))
def test_a_service_calls_its_peers_and_no_one_else(name: str) -> None:
    code = source(name)
    called = {peer for pattern in PEER_CALLS for peer in pattern.findall(code)}
    called |= {found.lower().replace("_", "-") for found in PEER_URL_SETTING.findall(code)} & set(TOPOLOGY.services)
    called -= {name}
    assert set(TOPOLOGY.services[name].peers) == called


@pytest.mark.parametrize("name", sorted(n for n, s in TOPOLOGY.services.items() if s.scopes))
def test_a_service_asks_only_for_scopes_a_peer_requires(name: str) -> None:
    node = TOPOLOGY.services[name]
    needed = {scope for peer in node.peers for scope in TOPOLOGY.services[peer].accepts}
    assert sorted(set(node.scopes) - needed) == [], f"{name} asks for scopes none of its peers requires"


def test_every_scope_is_published_required_and_asked_for() -> None:
    accepted = {scope for s in TOPOLOGY.services.values() for scope in s.accepts}
    asked = {scope for s in TOPOLOGY.services.values() for scope in s.scopes}
    asked |= {scope for _, scopes in TOPOLOGY.clients.values() for scope in scopes.split()}
    assert accepted <= set(TOPOLOGY.scopes) and asked <= set(TOPOLOGY.scopes)
    assert set(TOPOLOGY.scopes) == accepted, "a published scope that no endpoint requires"
    assert set(TOPOLOGY.scopes) == asked, "a published scope that no client asks for"


def test_the_payment_timeout_chain_is_ordered() -> None:
    """bank < payments < booking-ui < gateway: each waits longer than what it calls may take."""
    payments = TOPOLOGY.services["payments"]
    bank = payments.timeouts["bank"]
    assert payments.longest_request is not None
    # A payment request makes at most two bank calls (the first, and a resumed one) plus 5 s
    # of its own work: the age after which reconcile takes a pending payment over.
    assert payments.longest_request >= 2 * bank + 5
    booking_ui = TOPOLOGY.services["booking-ui"].timeouts["payments"]
    gateway = min(TOPOLOGY.gateway_timeout("payments"), TOPOLOGY.gateway_timeout("booking-ui"))
    assert bank < payments.longest_request < booking_ui < gateway


def test_timeouts_are_for_peers() -> None:
    for caller in TOPOLOGY.services.values():
        strangers = set(caller.timeouts) - set(caller.peers)
        assert not strangers, f"{caller.name} has timeouts for {sorted(strangers)}, which it does not call"


def test_make_up_runs_every_process_of_the_topology() -> None:
    """The Procfile (honcho, `make up`) starts each service by name; ports come from the topology."""
    procfile = (ROOT / "Procfile").read_text()
    started = set(re.findall(r"python -m hotelbook_stack run ([\w-]+)", procfile))
    assert started == set(TOPOLOGY.services)
    assert not re.search(r"--port \d", procfile), "a port in the Procfile: leave it to the topology"


def markdown_rows(text: str, header: str) -> list[list[str]]:
    """The cells of the table whose header line starts with ``header``."""
    block = text.split(header, 1)[1].split("\n\n", 1)[0]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in block.splitlines()[2:]]


def test_auth_readme_explains_the_topology_scopes() -> None:
    """The scope table of auth's README (ARCHITECTURE.md asks for one) says what the topology says."""
    readme = (ROOT / "auth" / "README.md").read_text()
    audiences = TOPOLOGY.scope_audiences()
    scopes = markdown_rows(readme, "| scope | granted to client | `aud` |")
    assert [row[0].strip("`") for row in scopes] == list(TOPOLOGY.scopes)
    for scope, granted, aud, *_ in scopes:
        assert sorted(aud.split(", ")) == list(audiences[scope.strip("`")]), scope
        askers = sorted(name for name, s in TOPOLOGY.services.items() if scope.strip("`") in s.scopes)
        assert all(name in granted for name in askers), (scope, askers)
    clients = markdown_rows(readme, "| client | grants | scopes |")
    assert {row[0]: (row[1].replace(", ", " "), row[2].split("`")[1]) for row in clients} == {
        name: s.client for name, s in TOPOLOGY.services.items() if s.client}
