"""The real nginx with the Lua module, rendered by render.py, in front of small echo apps."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from hotelbook_chassis.testing import free_port, require_or_skip

NGINX_DIR = Path(__file__).resolve().parent.parent
RENDER = NGINX_DIR / "render.py"
SERVICES = ("booking-ui", "search", "reservations", "payments", "users", "auth")

# Generous limits for every test that is not about rate limiting.
GENEROUS_LIMITS = {
    "policies": {name: {"limit": 100000, "window": 60} for name in ("token", "login", "api", "pages", "static")},
    "routes": json.loads((NGINX_DIR / "limits.json").read_text())["routes"],
}


# Every path of every service, with any method: for the tests of the limits, the WAF
# and the proxying, which are not about which operations are public
# (test_public_routes.py runs the real routes.json).
EVERY_METHOD = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND", "TRACK", "DEBUG"]
ALLOW_EVERYTHING = {"services": {
    "booking-ui": {"prefix": "", "operations": [{"methods": EVERY_METHOD, "path": "/"},
                                                {"methods": EVERY_METHOD, "path": "/{path+}"}]},
    **{name: {"prefix": f"/api/{name}", "operations": [{"methods": EVERY_METHOD, "path": "/{path+}"}]}
       for name in ("search", "reservations", "payments", "users")},
    "auth": {"prefix": "", "operations": [{"methods": EVERY_METHOD, "path": "/oauth/{path+}"},
                                          {"methods": EVERY_METHOD, "path": "/.well-known/{path+}"}]},
}}


def nginx_available() -> bool:
    if shutil.which("nginx") is None:
        return False
    info = subprocess.run(["nginx", "-V"], capture_output=True, text=True, check=False).stderr
    return "openresty" in info.lower() or "lua-nginx-module" in info or any(
        Path(p).exists() for p in ("/usr/share/nginx/modules/ngx_http_lua_module.so",
                                   "/usr/lib/nginx/modules/ngx_http_lua_module.so"))


@pytest.fixture(autouse=True)
def _needs_nginx() -> None:
    require_or_skip(nginx_available(), "nginx with the Lua module")


# --- upstream apps ---------------------------------------------------------------


class EchoHandler(BaseHTTPRequestHandler):
    """Answers every request with what it received, as JSON."""

    protocol_version = "HTTP/1.1"
    service = "?"

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        # `?sleep=S` and `?status=N` (on any public path) slow the answer or change its status.
        query = parse_qs(urlsplit(self.path).query)
        if "sleep" in query:
            time.sleep(float(query["sleep"][0]))
        if "status" in query:
            code = int(query["status"][0])
            payload = json.dumps({"type": "about:blank", "status": code, "from": self.service}).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/problem+json")
        else:
            payload = json.dumps({
                "service": self.service,
                "method": self.command,
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body,
            }).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        # like the services: the request id goes back on the answer
        self.send_header("X-Request-ID", self.headers.get("X-Request-ID", "none"))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _answer
    do_PROPFIND = do_TRACK = do_DEBUG = _answer

    def log_message(self, *args: Any) -> None:  # quiet
        pass


def start_echo(service: str) -> ThreadingHTTPServer:
    handler = type(f"Echo_{service}", (EchoHandler,), {"service": service})
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="session")
def upstreams() -> Iterator[dict[str, str]]:
    servers = {name: start_echo(name) for name in SERVICES}
    yield {name: f"127.0.0.1:{server.server_address[1]}" for name, server in servers.items()}
    for server in servers.values():
        server.shutdown()


# --- the gateway -----------------------------------------------------------------


def render(prefix: Path, port: int, upstreams: dict[str, str], *extra: str,
           check: bool = False) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(RENDER), "--prefix", str(prefix), "--listen", str(port)]
    for name, address in upstreams.items():
        command += ["--upstream", f"{name}={address}"]
    command += list(extra)
    if check:
        command.append("--check")
    return subprocess.run(command, capture_output=True, text=True, check=False)


class Gateway:
    """One nginx, rendered and started on a free port."""

    def __init__(self, prefix: Path, upstreams: dict[str, str], *extra: str,
                 limits: dict[str, Any] | None = None, routes: dict[str, Any] | None = None) -> None:
        self.prefix = prefix
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        prefix.mkdir(parents=True, exist_ok=True)
        args = list(extra)
        if limits is not None:
            limits_file = prefix / "limits.json"
            limits_file.write_text(json.dumps(limits))
            args += ["--limits", str(limits_file)]
        if routes is not None:
            routes_file = prefix / "routes.json"
            routes_file.write_text(json.dumps(routes))
            args += ["--routes", str(routes_file)]
        result = render(prefix, self.port, upstreams, *args)
        assert result.returncode == 0, result.stderr
        self.command = result.stdout.strip()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def access_log(self) -> Path:
        return self.prefix / "logs" / "access.log"

    @property
    def error_log(self) -> Path:
        return self.prefix / "logs" / "error.log"

    def start(self) -> Gateway:
        out = (self.prefix / "nginx.out").open("ab")
        self.process = subprocess.Popen(["nginx", "-p", str(self.prefix), "-c", "nginx.conf", "-g", "daemon off;"],
                                        stdout=out, stderr=out)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError((self.prefix / "nginx.out").read_text() + self.error_log.read_text())
            try:
                requests.get(f"{self.url}/api/search/healthz", timeout=1)
                return self
            except requests.ConnectionError:
                time.sleep(0.05)
        raise TimeoutError(f"gateway not answering on {self.url}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_entries(self) -> list[dict[str, Any]]:
        # Only whole lines: nginx may be halfway through writing the last one.
        text = self.access_log.read_text()
        return [json.loads(line) for line in text[:text.rfind("\n") + 1].splitlines() if line.strip()]

    def log_for(self, request_id: str, timeout: float = 3) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for entry in self.log_entries():
                if entry["request_id"] == request_id:
                    return entry
            if time.monotonic() > deadline:
                raise AssertionError(f"no access log line for {request_id}")
            time.sleep(0.05)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("allow_redirects", False)
        return requests.request(method, self.url + path, timeout=kwargs.pop("timeout", 10), **kwargs)


@pytest.fixture(scope="session")
def gateway(tmp_path_factory: pytest.TempPathFactory, upstreams: dict[str, str]) -> Iterator[Gateway]:
    """Blocking WAF, generous limits, every path routed."""
    require_or_skip(nginx_available(), "nginx with the Lua module")
    gw = Gateway(tmp_path_factory.mktemp("gateway"), upstreams, limits=GENEROUS_LIMITS,
                 routes=ALLOW_EVERYTHING).start()
    yield gw
    gw.stop()


@pytest.fixture(scope="session")
def detect_gateway(tmp_path_factory: pytest.TempPathFactory, upstreams: dict[str, str]) -> Iterator[Gateway]:
    require_or_skip(nginx_available(), "nginx with the Lua module")
    gw = Gateway(tmp_path_factory.mktemp("detect"), upstreams, "--waf-mode", "detect",
                 limits=GENEROUS_LIMITS, routes=ALLOW_EVERYTHING).start()
    yield gw
    gw.stop()


def assert_problem(response: requests.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["type"].startswith("urn:problem:hotelbook:")
    assert body["title"]
    assert body["request_id"] == response.headers["X-Request-ID"]
    return body


@pytest.fixture
def problem() -> Any:
    return assert_problem


if os.environ.get("GATEWAY_TEST_DEBUG"):
    print("gateway tests use", RENDER, file=sys.stderr)
