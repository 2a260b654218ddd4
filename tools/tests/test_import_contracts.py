""".importlinter covers every service package and every domain module of the repository,
so a new service (or a new domain module) cannot slip past the layering contracts."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHASSIS = "hotelbook_chassis"
# Run-the-system tooling, not a service: it may import anything and nothing imports it.
NOT_CHECKED = {"hotelbook_stack"}


def contracts() -> configparser.ConfigParser:
    parser = configparser.ConfigParser()
    parser.read(ROOT / ".importlinter")
    return parser


def listed(section: str, key: str) -> set[str]:
    return set(contracts()[section][key].split())


def service_packages() -> dict[str, Path]:
    """Every top-level ``hotelbook_*`` package of a project folder (``<project>/[src/]hotelbook_*``)."""
    found = {}
    for init in [*ROOT.glob("*/hotelbook_*/__init__.py"), *ROOT.glob("*/src/hotelbook_*/__init__.py")]:
        name = init.parent.name
        if name not in NOT_CHECKED and name != CHASSIS:
            found[name] = init.parent
    return found


def python_path_folders() -> set[str]:
    """The folders the lint env puts on PYTHONPATH (tox.ini), relative to the repository."""
    text = (ROOT / "tox.ini").read_text()
    section = text.split("[testenv:lint]", 1)[1].split("\n[", 1)[0]
    match = re.search(r"PYTHONPATH = (.+)", section)
    assert match, "the lint env sets PYTHONPATH so lint-imports finds every package"
    return {part.replace("{toxinidir}/", "") for part in match.group(1).split("{:}")}


def test_every_service_package_is_under_contract() -> None:
    packages = service_packages()
    assert packages, "no service package found"
    missing_root = set(packages) - listed("importlinter", "root_packages")
    assert not missing_root, f"add {sorted(missing_root)} to root_packages in .importlinter"
    independent = listed("importlinter:contract:services-are-independent", "modules")
    assert independent == set(packages), (
        f"the independence contract in .importlinter should list exactly {sorted(packages)}")
    forbidden_for_chassis = listed("importlinter:contract:chassis-is-shared", "forbidden_modules")
    assert forbidden_for_chassis == set(packages), (
        f"the chassis contract in .importlinter should forbid exactly {sorted(packages)}")
    folders = python_path_folders()
    for path in packages.values():
        assert str(path.parent.relative_to(ROOT)) in folders, f"add {path.parent.name} to the lint env's PYTHONPATH"


def test_every_domain_module_is_plain_python() -> None:
    domains = {f"{name}.domain" for name, path in service_packages().items()
               if (path / "domain.py").exists() or (path / "domain" / "__init__.py").exists()}
    assert domains, "no domain module found"
    source = listed("importlinter:contract:domain-is-plain-python", "source_modules")
    assert source == domains, f"the domain contract in .importlinter should list exactly {sorted(domains)}"
