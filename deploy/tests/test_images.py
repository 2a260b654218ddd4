"""The container images, built with buildah and checked inside their own file systems.

Builds the search image and the gateway image (``python -m hotelbook_stack.images``),
then, with ``buildah run`` as the image's own user: the service imports and its
gunicorn configuration loads; the service starts from the image's command, migrates,
answers ``/healthz`` and ``/readyz``, and writes nothing outside the declared
volumes (so a read-only root works); the gateway renders its nginx configuration
from the environment and ``nginx -t`` plus the Lua start-up accept it; the gateway
container then proxies to the search container.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import requests

from hotelbook_chassis.testing import free_port, require_or_skip
from hotelbook_stack.services import BY_NAME, ROOT

SEARCH = "localhost/hotelbook/search:latest"
GATEWAY = "localhost/hotelbook/gateway:latest"
USER_ID = "10001"


def buildah(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["buildah", *args], capture_output=True, text=True, check=check)


@pytest.fixture(scope="module")
def built() -> None:
    require_or_skip(shutil.which("buildah") is not None and os.geteuid() == 0, "buildah (as root)")
    result = subprocess.run([sys.executable, "-m", "hotelbook_stack.images", "--only", "search,gateway"],
                            cwd=ROOT, capture_output=True, text=True, check=False)
    print(result.stdout, result.stderr[-3000:])
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.fixture
def container(built: None) -> Iterator[callable]:
    made: list[str] = []

    def make(image: str) -> str:
        made.append(buildah("from", "--pull-never", image).stdout.strip())
        return made[-1]

    yield make
    for name in made:
        buildah("rm", name, check=False)


def run(container: str, *command: str, env: dict[str, str] | None = None,
        check: bool = True) -> subprocess.CompletedProcess[str]:
    args = ["run", "--isolation", "chroot"]
    for key, value in (env or {}).items():
        args += ["--env", f"{key}={value}"]
    return buildah(*args, container, "--", *command, check=check)


def config(image: str) -> dict:
    return json.loads(buildah("inspect", "--type", "image", image).stdout)["Docker"]["config"]


def test_service_image_runs_as_non_root_with_declared_volumes_and_healthcheck(built: None) -> None:
    image = config(SEARCH)
    assert image["User"] == f"{USER_ID}:{USER_ID}"
    assert set(image["Volumes"]) == {"/tmp", "/run/hotelbook/metrics"}
    assert "/healthz" in " ".join(image["Healthcheck"]["Test"])
    env = dict(item.split("=", 1) for item in image["Env"])
    assert env["HOTELBOOK_APP"] == BY_NAME["search"].app and env["PORT"] == str(BY_NAME["search"].port)
    assert "gunicorn -c python:hotelbook_chassis.gunicorn_conf" in " ".join(image["Cmd"])


def test_service_imports_and_gunicorn_config_loads(container) -> None:
    box = container(SEARCH)
    assert run(box, "id", "-u").stdout.strip() == USER_ID
    env = {"VAR_DIR": "/tmp/var", "DATABASE_URL": "sqlite:////tmp/search.db"}
    version = run(box, "python3", "-c", "import sys, hotelbook_search; hotelbook_search.create_app(); "
                                        "print(sys.version_info[:2])", env=env)
    assert version.stdout.strip().endswith("(3, 11)")
    checked = run(box, "gunicorn", "--check-config", "-c", "python:hotelbook_chassis.gunicorn_conf",
                  BY_NAME["search"].app, env=env, check=False)
    assert checked.returncode == 0, checked.stderr
    # Only runtime dependencies: no compiler, no test tools, no pip.
    missing = run(box, "sh", "-c", "command -v gcc cc pip pytest || echo none").stdout.strip()
    assert missing == "none"


def start(box: str, command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    args = ["buildah", "run", "--isolation", "chroot"]
    for key, value in env.items():
        args += ["--env", f"{key}={value}"]
    return subprocess.Popen([*args, box, "--", *command], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)


def stop(process: subprocess.Popen[bytes]) -> str:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
    try:
        output, _ = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # our own process group (start_new_session)
        output, _ = process.communicate()
    return output.decode(errors="replace")[-3000:]


def wait_for(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> requests.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the container's process exited: {stop(process)}")
        try:
            return requests.get(url, timeout=2)
        except requests.RequestException:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer")


def test_service_and_gateway_containers_serve_with_a_read_only_root(container) -> None:
    search = container(SEARCH)
    port = free_port()
    env = {"VAR_DIR": "/tmp/var", "DATABASE_URL": "sqlite:////tmp/search.db", "BIND": f"127.0.0.1:{port}",
           "JSON_LOGS": "true"}
    run(search, "touch", "/tmp/stamp")
    run(search, "flask", "--app", "hotelbook_search", "db", "upgrade", env=env)
    # The image's own command (the gunicorn settings of `make up`).
    command = config(SEARCH)["Cmd"]
    service = start(search, command, env)
    try:
        assert wait_for(f"http://127.0.0.1:{port}/healthz", service).status_code == 200
        assert requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200
        assert requests.get(f"http://127.0.0.1:{port}/hotels?city=zurich", timeout=5).status_code == 200

        gateway = container(GATEWAY)
        listen = free_port()
        rendered = run(gateway, "python3", "/opt/hotelbook/nginx/render.py", "--prefix", "/tmp/check",
                       "--listen", f"127.0.0.1:{listen}", "--check", check=False)
        assert rendered.returncode == 0, rendered.stderr
        assert "test is successful" in rendered.stderr and "lua check" in rendered.stderr
        proxy = start(gateway, ["/usr/local/bin/gateway-entrypoint"],
                      {"GATEWAY_LISTEN": f"127.0.0.1:{listen}", "GATEWAY_WORKERS": "1",
                       "GATEWAY_UPSTREAMS": f"search=127.0.0.1:{port}"})
        try:
            answer = wait_for(f"http://127.0.0.1:{listen}/api/search/hotels?city=zurich", proxy)
            assert answer.status_code == 200, answer.text
            assert answer.headers["X-Request-ID"]
        finally:
            logs = stop(proxy)
        # The access log: on the container's output, or in the prefix when the runtime's
        # output cannot be reopened by the image's user.
        logs += run(gateway, "sh", "-c", "cat /tmp/nginx/logs/access.log 2>/dev/null || true").stdout
        # the path and the parameter names, never the query's values
        assert '"path":"/api/search/hotels"' in logs and '"query_names":"city"' in logs
        assert 'city=zurich' not in logs
    finally:
        stop(service)
    # Everything the service wrote is under its declared volumes.
    written = run(search, "find", "/", "-xdev", "-newer", "/tmp/stamp", "-not", "-path", "/tmp*",
                  "-not", "-path", "/run/hotelbook/*", "-not", "-path", "/dev*", "-not", "-path", "/proc*",
                  "-not", "-path", "/sys*", "-not", "-path", "/etc/hosts", "-not", "-path", "/etc/resolv.conf",
                  "-not", "-path", "/etc/hostname", "-not", "-path", "/run", "-not", "-path", "/run/.containerenv",
                  check=False)
    assert written.stdout.split() == [], written.stdout
