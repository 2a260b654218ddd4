"""The process list of `make up` with and without replicas (no process is started here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotelbook_stack.__main__ import procfile
from hotelbook_stack.layout import Layout
from hotelbook_stack.services import ROOT, SERVICES


def test_the_procfile_is_the_one_instance_process_list(tmp_path: Path) -> None:
    assert (ROOT / "Procfile").read_text() == procfile(Layout(var_dir=tmp_path))


def test_replicas_give_every_stateless_service_instances_on_their_own_ports(tmp_path: Path) -> None:
    layout = Layout(var_dir=tmp_path, replicas=3, postgres_url="postgresql://postgres@127.0.0.1:5432")
    assert layout.instances("search") == ["search.1", "search.2", "search.3"]
    assert layout.instances("bank") == ["bank"]  # an outside party: one
    assert [layout.ports[name] for name in layout.instances("search")] == [8201, 8301, 8401]
    ports = [layout.ports[name] for name, _ in layout.processes]
    assert len(ports) == len(set(ports)) == 3 * (len(SERVICES) - 1) + 1
    # Each instance answers on its own port; peers call the service address (the service's port).
    env = layout.env("search", "search.2")
    assert env["PORT"] == "8301" and env["RESERVATIONS_URL"] == "http://127.0.0.1:8102"
    # The instances of one service share its one database.
    assert layout.env("search", "search.1")["DATABASE_URL"] == env["DATABASE_URL"]
    lines = procfile(layout).splitlines()
    assert "search3: python -m hotelbook_stack run search.3" in lines
    assert sum(line.startswith("bank:") for line in lines) == 1


def test_replicas_are_bounded(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        Layout(var_dir=tmp_path, replicas=0)


def test_a_database_suffix_is_a_plain_name(tmp_path: Path) -> None:
    assert Layout(var_dir=tmp_path, database_suffix="_two").database_name(SERVICES[0]).endswith("_two")
    with pytest.raises(ValueError):
        Layout(var_dir=tmp_path, database_suffix='"; DROP DATABASE x; --')
