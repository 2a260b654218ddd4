"""The gateway's own hygiene: workers that are not root, an access log without query values."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest
from conftest import RENDER, Gateway

spec = importlib.util.spec_from_file_location("gateway_render_hygiene", RENDER)
render_module = importlib.util.module_from_spec(spec)
sys.modules["gateway_render_hygiene"] = render_module
spec.loader.exec_module(render_module)


def options(tmp_path: Path):
    return render_module.Options(prefix=tmp_path, listen="127.0.0.1:18080",
                                 upstreams=render_module.parse_upstreams([]), lua_modules=[])


def test_started_by_root_the_workers_are_nobody(tmp_path, monkeypatch):
    monkeypatch.setattr(render_module.os, "geteuid", lambda: 0)
    conf = render_module.render(options(tmp_path))
    assert "user nobody" in conf
    assert "user root" not in conf
    assert "proxy_max_temp_file_size 0;" in conf  # nothing for them to write in the prefix


def test_started_by_anyone_else_no_user_directive(tmp_path, monkeypatch):
    monkeypatch.setattr(render_module.os, "geteuid", lambda: 1000)
    assert "\nuser " not in render_module.render(options(tmp_path))


def worker_uids(master_pid: int) -> list[int]:
    uids = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        if int(fields.get("PPid", "0").strip() or 0) == master_pid:
            uids.append(int(fields["Uid"].split()[0]))
    return uids


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can start workers as another user")
def test_a_gateway_started_by_root_serves_with_workers_that_are_not_root(gateway: Gateway):
    uids = worker_uids(gateway.process.pid)
    assert uids and all(uid != 0 for uid in uids)
    # and they still proxy, bodies and large answers included (no temp file needed)
    response = gateway.request("POST", "/api/reservations/reservations", data=b"x" * 900_000,
                               headers={"Content-Type": "text/xml"})
    assert response.status_code == 200
    assert len(response.json()["body"]) == 900_000


def test_the_access_log_keeps_parameter_names_never_values(gateway: Gateway):
    gateway.get("/reset-password?token=s3cr3t-reset-token&next=/x&token=again",
                headers={"X-Request-ID": "log-secret-1"})
    gateway.get("/api/users/users/me?", headers={"X-Request-ID": "log-secret-2"})
    entry = gateway.log_for("log-secret-1")
    assert entry["path"] == "/reset-password"
    assert entry["query_names"] == "token,next"
    assert "uri" not in entry
    assert gateway.log_for("log-secret-2")["query_names"] == ""
    log = gateway.access_log.read_text()
    assert "s3cr3t-reset-token" not in log
    assert "again" not in log


def test_a_refused_request_does_not_log_its_query_either(gateway: Gateway):
    # nginx refuses the over-long request line before reading any header or running Lua
    response = gateway.get("/api/search/hotels?token=s3cr3t-414&x=" + "a" * 20000)
    assert response.status_code >= 400
    gateway.log_for(response.headers["X-Request-ID"])
    assert "s3cr3t-414" not in gateway.access_log.read_text()
