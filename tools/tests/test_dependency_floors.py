"""constraints.txt satisfies every dependency floor of every pyproject.toml, and the
floors SECURITY.md lists are the ones the projects declare."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
PYPROJECTS = sorted(p for p in ROOT.glob("*/pyproject.toml"))


def pins() -> dict[str, Version]:
    pinned = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pinned[canonicalize_name(name)] = Version(version.split(";")[0].strip())
    return pinned


def requirements() -> list[tuple[str, Requirement]]:
    found = []
    for path in PYPROJECTS:
        project = tomllib.loads(path.read_text())["project"]
        lists = [project.get("dependencies", []), *project.get("optional-dependencies", {}).values()]
        for text in (item for group in lists for item in group):
            requirement = Requirement(text)
            if not canonicalize_name(requirement.name).startswith("hotelbook-"):
                found.append((path.parent.name, requirement))
    return found


def test_there_are_projects_to_check():
    assert len(PYPROJECTS) >= 9
    assert len(requirements()) >= 20


@pytest.mark.parametrize(("project", "requirement"), requirements(), ids=lambda v: str(v))
def test_the_pinned_version_satisfies_the_floor(project, requirement):
    pinned = pins().get(canonicalize_name(requirement.name))
    assert pinned is not None, f"{project}: {requirement.name} is not pinned in constraints.txt"
    assert requirement.specifier.contains(pinned, prereleases=True), \
        f"{project}: constraints.txt pins {requirement.name}=={pinned}, below {requirement}"


def security_floors() -> list[tuple[str, SpecifierSet]]:
    rows = re.findall(r"^\| ([a-z0-9_.-]+) \| `([^`]+)` \|", (ROOT / "SECURITY.md").read_text(), re.MULTILINE)
    return [(name, SpecifierSet(spec)) for name, spec in rows]


def test_security_md_lists_floors():
    assert len(security_floors()) >= 10


@pytest.mark.parametrize(("name", "floor"), security_floors(), ids=lambda v: str(v))
def test_every_floor_of_security_md_is_declared_and_met(name, floor):
    declared = [(project, r) for project, r in requirements() if canonicalize_name(r.name) == canonicalize_name(name)]
    assert declared, f"SECURITY.md lists {name}, which no pyproject.toml declares"
    assert any(r.specifier == floor for _, r in declared), \
        f"no pyproject.toml declares {name}{floor}: {[str(r) for _, r in declared]}"
    assert floor.contains(pins()[canonicalize_name(name)], prereleases=True)
