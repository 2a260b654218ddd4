"""pytest plugin shared by every service's tests (loaded through the ``pytest11`` entry point).

A service's ``conftest.py`` only says how to build its app::

    @pytest.fixture(scope="session")
    def app(service_config):
        return create_app(service_config)

and gets from here:

* ``database_url``: a SQLite file in a temporary folder, or, when
  ``TEST_DATABASE_URL`` names a PostgreSQL server, a fresh database created on
  it for the session and dropped after. The same tests run on both.
* ``signing_key`` / ``jwks`` / ``token_factory``: a real ES256 key, its public
  JWKS (given to the app as config, so no auth is needed) and real signed
  RFC 9068 access tokens with any scopes, audience or expiry.
* ``client``: a WebTest ``TestApp`` on the migrated app; every table is emptied
  after each test.
* ``ServiceProcess``: start a real gunicorn process on a free port and wait for
  its ``/readyz``, for tests that need real processes.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

TEST_ISSUER = "http://issuer.test"
TEST_KID = "test-key-1"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_or_skip(available: bool, what: str) -> None:
    """Skip locally when ``what`` is missing; in CI a missing dependency is a failure."""
    if available:
        return
    if in_ci():
        pytest.fail(f"{what} is required in CI but is not available")
    pytest.skip(f"{what} not available")


_HANDED_OUT: set[int] = set()
_LOWEST_PORT = 20_000  # above every port a browser refuses to load (10080 is the last)


def _ephemeral_range() -> tuple[int, int]:
    """The ports the kernel gives outgoing connections (and ``bind(0)``)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_port() -> int:
    """A port nothing listens on, for a server a test starts.

    Never the same one twice in a process (a port asked for and not yet bound would
    otherwise come back for the next service), and taken below the ephemeral range,
    where no outgoing connection of this machine's other tests can be sitting on it.
    """
    low, _ = _ephemeral_range()
    chooser = random.SystemRandom()
    for _attempt in range(500):
        port = chooser.randrange(_LOWEST_PORT, low) if low > _LOWEST_PORT + 1000 else 0
        if port in _HANDED_OUT:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            port = sock.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port
    raise RuntimeError("no free port found")


# --- peers -------------------------------------------------------------------------


class PeerServer:
    """A peer faked at a real address: any WSGI app (a Flask app such as the bank sandbox, or a
    ``werkzeug.Request.application`` function) served by a thread on a port the kernel picks.

    The one way a service's tests stand a peer up for a real HTTP client (a ``ServiceProcess``,
    a timeout to provoke); calls made inside the test process are faked with ``responses``::

        with PeerServer(json_routes({"/.well-known/jwks.json": jwks})) as peer:
            ServiceProcess(..., env={"AUTH_JWKS_URL": peer.url + "/.well-known/jwks.json"})
    """

    def __init__(self, app: Callable[..., Any]) -> None:
        import threading

        from werkzeug.serving import make_server

        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.port: int = self.server.port
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> PeerServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> PeerServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def json_routes(routes: Mapping[str, Any]) -> Callable[..., Any]:
    """A WSGI app answering each path of ``routes`` with its JSON body (read at request time), else a 404."""
    import json

    from werkzeug.wrappers import Request, Response

    @Request.application
    def app(request: Request) -> Response:
        body = routes.get(request.path)
        if body is None:
            return Response(json.dumps({"status": 404}), status=404, mimetype="application/problem+json")
        return Response(json.dumps(body), mimetype="application/json")

    return app


# --- databases ---------------------------------------------------------------------


def _create_pg_database(admin_url: str, name: str) -> str:
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(admin_url)
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return url.set(database=name).render_as_string(hide_password=False)


def _drop_pg_database(admin_url: str, name: str) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    conninfo = make_url(admin_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def new_database_url(tmp_dir: Path, label: str = "test") -> tuple[str, Callable[[], None]]:
    """A fresh empty database and a function that removes it."""
    admin_url = os.environ.get("TEST_DATABASE_URL")
    if admin_url:
        name = f"hb_{label.replace('-', '_')}_{uuid.uuid4().hex[:10]}"
        url = _create_pg_database(admin_url, name)
        return url, lambda: _drop_pg_database(admin_url, name)
    path = tmp_dir / f"{label}-{uuid.uuid4().hex[:8]}.db"
    return f"sqlite:///{path}", lambda: None


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url, drop = new_database_url(tmp_path_factory.mktemp("db"))
    yield url
    drop()


# --- tokens ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def signing_key() -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": TEST_KID, "use": "sig", "alg": "ES256"})


@pytest.fixture(scope="session")
def jwks(signing_key: ECKey) -> dict[str, Any]:
    return KeySet([signing_key]).as_dict(private=False)


def make_token(
    key: ECKey,
    *,
    scope: str = "guest",
    sub: str | None = None,
    aud: str | list[str] = "test",
    exp_in: int = 300,
    issuer: str = TEST_ISSUER,
    client_id: str = "test-client",
    header: Mapping[str, Any] | None = None,
    **claims: Any,
) -> str:
    """A real signed RFC 9068 access token."""
    now = int(time.time())
    payload = {
        "iss": issuer,
        "sub": sub or str(uuid.uuid4()),
        "aud": aud,
        "exp": now + exp_in,
        "iat": now,
        "jti": uuid.uuid4().hex,
        "client_id": client_id,
        "scope": scope,
        **claims,
    }
    protected = {"alg": "ES256", "kid": key.kid, "typ": "at+jwt", **(header or {})}
    protected = {name: value for name, value in protected.items() if value is not None}
    return jwt.encode(protected, payload, key)


@pytest.fixture(scope="session")
def token_factory(signing_key: ECKey, service_name: str) -> Callable[..., str]:
    """``token_factory("users:read", sub=..., aud=..., exp_in=...)`` -> a signed token."""

    def factory(scope: str = "guest", **kwargs: Any) -> str:
        kwargs.setdefault("aud", service_name)
        return make_token(signing_key, scope=scope, **kwargs)

    return factory


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- apps --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def service_name() -> str:
    """Overridden by a service's conftest when its audience is not ``test``."""
    return "test"


@pytest.fixture(scope="session")
def service_config(database_url: str, jwks: dict[str, Any], service_name: str,
                   tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Config every service app under test starts from."""
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SECRET_KEY": "test-secret-key-not-for-production",
        "JWKS": jwks,
        "OAUTH_ISSUER": TEST_ISSUER,
        "TOKEN_AUDIENCE": service_name,
        "JSON_LOGS": False,
        "VAR_DIR": str(tmp_path_factory.mktemp("var")),
    }


@pytest.fixture(scope="session")
def migrated_app(app: Any) -> Any:
    from hotelbook_chassis.migrations import upgrade

    if "hotelbook_db" in app.extensions:
        upgrade(app)
    return app


def empty_tables(app: Any) -> None:
    db = app.extensions.get("hotelbook_db")
    if db is None:
        return
    with app.app_context():
        db.session.remove()
        with db.engine.begin() as conn:
            for table in reversed(db.metadata.sorted_tables):
                conn.execute(table.delete())


@pytest.fixture
def clean_db(migrated_app: Any) -> Iterator[Any]:
    """The migrated app, with every table emptied after the test."""
    yield migrated_app
    empty_tables(migrated_app)


@pytest.fixture
def client(clean_db: Any) -> Any:
    """A WebTest ``TestApp`` on the migrated app."""
    from webtest import TestApp

    return TestApp(clean_db)


# --- mail ----------------------------------------------------------------------------


@pytest.fixture
def smtp_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A real SMTP server (aiosmtpd) on a free port; ``SMTP_HOST/PORT`` point at it."""
    from hotelbook_chassis.smtp_sink import start_sink

    port = free_port()
    controller, store = start_sink("127.0.0.1", port)
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_PORT", str(port))
    store.port = port  # type: ignore[attr-defined]
    yield store
    controller.stop()


# --- real processes ----------------------------------------------------------------


class ServiceProcess:
    """A service under gunicorn on a free port, for tests that need real processes."""

    def __init__(self, app_spec: str, env: Mapping[str, str] | None = None, *, workers: int = 2,
                 cwd: str | Path | None = None, name: str | None = None, port: int | None = None) -> None:
        self.app_spec = app_spec
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **(env or {}), "BIND": f"127.0.0.1:{self.port}",
                    "WEB_CONCURRENCY": str(workers)}
        self.cwd = cwd
        self.name = name or app_spec
        self.process: subprocess.Popen[bytes] | None = None
        # A file, not a pipe: a full pipe would block a chatty server.
        self.log_path = Path(tempfile.mkstemp(prefix=f"{self.name.replace(':', '_').replace('/', '_')}-",
                                              suffix=".log")[1])

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    def start(self, timeout: float = 120) -> ServiceProcess:
        # Generous: on a busy machine booking the workers can take long; it is a deadline, not a measure.
        self.start_nowait()
        try:
            self.wait_ready(timeout)
        except BaseException:
            self.stop()  # never leave a half-started server behind
            raise
        return self

    def start_nowait(self) -> None:
        with self.log_path.open("ab") as log:
            # Its own process group, so kill_hard() reaches the workers too.
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "python:hotelbook_chassis.gunicorn_conf", self.app_spec],
                env=self.env, cwd=self.cwd, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True,
            )

    def kill_hard(self) -> None:
        """SIGKILL the master and every worker at once, like a crash."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if requests.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} not ready on {self.url} after {timeout}s:\n{self.log_tail()}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None

    def __enter__(self) -> ServiceProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
