"""Everything a fresh clone needs before the processes start; each step is idempotent."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from hotelbook_chassis import topology
from hotelbook_chassis.theme import SITE_NAME
from hotelbook_stack.layout import Layout
from hotelbook_stack.services import ADMIN_CLIENT, BY_NAME, ROOT, SERVICES, Service


class StepFailed(RuntimeError):
    pass


def run(layout: Layout, service: Service, *args: str) -> str:
    """Run a service's Flask CLI command with its environment; return its output."""
    app = args[0]
    env = layout.env(service)
    # Migrations and seeding are not requests anyone follows (and the store may not be up yet).
    env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    result = subprocess.run(layout.flask_command(app, *args[1:]), env=env, cwd=ROOT,
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise StepFailed(f"{service.name}: flask {' '.join(args[1:])} failed:\n{result.stderr[-3000:]}")
    return result.stdout


def create_databases(layout: Layout) -> None:
    """One PostgreSQL database per service (SQLite files appear by themselves)."""
    if not layout.postgres_url:
        return
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(layout.postgres_url).set(drivername="postgresql", database="postgres")
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as conn:
        existing = {row[0] for row in conn.execute("SELECT datname FROM pg_database")}
        for service in SERVICES:
            name = layout.database_name(service)
            if name not in existing:
                conn.execute(f'CREATE DATABASE "{name}"')
                existing.add(name)


def drop_databases(layout: Layout) -> None:
    if not layout.postgres_url:
        return
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(layout.postgres_url).set(drivername="postgresql", database="postgres")
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as conn:
        for name in {layout.database_name(service) for service in SERVICES}:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def migrate(layout: Layout) -> None:
    def upgrade(service: Service) -> None:
        for app in service.flask_apps:
            run(layout, service, app, "db", "upgrade")

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(upgrade, SERVICES))


def register_client(layout: Layout, name: str, grants: str, scopes: str, *, redirect_uris: tuple[str, ...] = (),
                    public: bool = False, client_id: str | None = None, display_name: str | None = None,
                    signup_uri: str | None = None, password_reset_uri: str | None = None) -> dict[str, str]:
    args = ["hotelbook_auth", "clients", "create", "--name", name, "--scopes", scopes, "--grants", grants]
    for uri in redirect_uris:
        args += ["--redirect-uri", uri]
    for option, value in (("--display-name", display_name), ("--signup-uri", signup_uri),
                          ("--password-reset-uri", password_reset_uri)):
        if value:
            args += [option, value]
    if public:
        args.append("--public")
    if client_id:
        args += ["--client-id", client_id]
    output = run(layout, BY_NAME["auth"], *args)
    return json.loads(output.strip().splitlines()[-1])


def describe_client(layout: Layout, client_id: str, *, display_name: str, signup_uri: str,
                    password_reset_uri: str) -> None:
    """What auth's login page shows of a registered client (idempotent; the secret is kept)."""
    run(layout, BY_NAME["auth"], "hotelbook_auth", "clients", "describe", "--client-id", client_id,
        "--display-name", display_name, "--signup-uri", signup_uri, "--password-reset-uri", password_reset_uri)


def register_kept_client(layout: Layout, name: str, grants: str, scopes: str) -> None:
    """Register a client once, its credentials kept in ``var/clients/<name>.json`` (0600)."""
    path = layout.client_file(name)
    pages: dict[str, str] = {}
    redirect: tuple[str, ...] = ()
    if "authorization_code" in grants:
        # The site guests log in to: its name and its own pages on auth's login page.
        redirect = (f"{layout.gateway_url}/auth/callback",)
        pages = {"display_name": SITE_NAME, "signup_uri": f"{layout.gateway_url}/signup",
                 "password_reset_uri": f"{layout.gateway_url}/forgot-password"}
    if path.exists():
        if pages:  # registered before the login page showed them: set them, keep the secret
            try:
                describe_client(layout, json.loads(path.read_text())["client_id"], **pages)
            except StepFailed as error:  # not fatal: the log-in works, with the client's plain name
                print(f"warning: {error}", file=sys.stderr)
        return
    credentials = register_client(layout, name, grants, scopes, redirect_uris=redirect, client_id=name, **pages)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(json.dumps(credentials))


def register_service_clients(layout: Layout) -> None:
    """Each service's own client (and nothing more: no admin client with write scopes
    unless asked for, see :func:`register_admin_client`)."""
    wanted = [(service.name, *service.client) for service in SERVICES if service.client]
    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(lambda entry: register_kept_client(layout, *entry), wanted))


def register_admin_client(layout: Layout) -> None:
    """The catalogue admin client (``search:write``): only for those who ask (the test suites)."""
    register_kept_client(layout, *ADMIN_CLIENT)


def seed_catalogue(layout: Layout, hotels: int) -> None:
    """Seed with the command's own output on the terminal: a large catalogue shows its progress bar."""
    search = BY_NAME["search"]
    env = layout.env(search)
    env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)  # a bulk load is no request anyone follows
    result = subprocess.run(layout.flask_command("hotelbook_search", "seed", "--hotels", str(hotels)),
                            env=env, cwd=ROOT, check=False)
    if result.returncode != 0:
        raise StepFailed(f"search: flask seed --hotels {hotels} failed (its output is above)")


# The services behind the gateway (the topology's routes; pdf-reporting and the bank are internal only).
GATEWAY_SERVICES = tuple(topology.load().routes)


def public_openapi_file(layout: Layout) -> Path:
    return layout.var_dir / "nginx" / "public-openapi.json"


def render_gateway(layout: Layout) -> Path | None:
    """Write the nginx configuration; None when nginx with the Lua module is missing."""
    if not gateway_available():
        return None
    prefix = layout.var_dir / "nginx"
    command = [sys.executable, str(ROOT / "nginx" / "render.py"), "--prefix", str(prefix),
               "--listen", str(layout.ports["gateway"]), "--waf-mode", layout.waf_mode,
               "--public-openapi", str(public_openapi_file(layout))]
    if layout.otlp_endpoint:
        command += ["--otlp-endpoint", layout.otlp_endpoint]
        # The share of new traces the gateway samples: the services' ratio setting.
        if os.environ.get("OTEL_TRACES_SAMPLER", "").endswith("traceidratio"):
            command += ["--trace-ratio", os.environ.get("OTEL_TRACES_SAMPLER_ARG", "1")]
    if "gateway-metrics" in layout.ports:
        command += ["--metrics-listen", str(layout.ports["gateway-metrics"])]
    for service in SERVICES:
        if service.name in GATEWAY_SERVICES:
            command += [arg for address in layout.instance_addresses(service)
                        for arg in ("--upstream", f"{service.name}={address}")]
        if layout.balanced(service):
            # The service address peers call: balanced over the instances inside the same nginx.
            command += ["--internal", f"{service.name}@{layout.ports[service.name]}="
                                      + ",".join(layout.instance_addresses(service))]
    if layout.limits_file:
        command += ["--limits", str(layout.limits_file)]
    if layout.limits_redis:
        command += ["--limits-redis", layout.limits_redis]
    subprocess.run(command, check=True, capture_output=True, text=True)
    return prefix


def publish_public_openapi(layout: Layout) -> Path:
    """The one OpenAPI document of the public operations, from the running services' own
    documents filtered by nginx/routes.json; the gateway serves it at /api/openapi.json."""
    out = public_openapi_file(layout)
    command = [sys.executable, str(ROOT / "nginx" / "public_openapi.py"), "--out", str(out)]
    for name in GATEWAY_SERVICES:
        command += ["--service", f"{name}={layout.url(name)}/openapi.json"]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise StepFailed(f"public OpenAPI document: {result.stderr[-2000:]}")
    return out


def reload_gateway(layout: Layout) -> bool:
    """Ask a running nginx to reload (HUP): it reads the public document again."""
    pid_file = layout.var_dir / "nginx" / "logs" / "nginx.pid"
    try:
        os.kill(int(pid_file.read_text().strip()), signal.SIGHUP)
    except (OSError, ValueError):
        return False
    return True


def gateway_available() -> bool:
    return shutil.which("nginx") is not None and any(
        Path(p).exists() for p in ("/usr/share/nginx/modules/ngx_http_lua_module.so",
                                   "/usr/local/openresty/nginx/sbin/nginx")
    )


GATEWAY_INSTALL_HINT = (
    "The gateway needs nginx with the Lua module. On Debian/Ubuntu:\n"
    "    sudo apt-get install nginx libnginx-mod-http-lua lua-resty-core\n"
    "(or install OpenResty). Until then the services answer on their own ports."
)


def bootstrap(layout: Layout, *, hotels: int = 0) -> None:
    layout.var_dir.mkdir(parents=True, exist_ok=True)
    # Databases with password hashes, secrets, keys, mail: for the owner only.
    layout.var_dir.chmod(0o700)
    # Each process's counters, and the service's own for its command-line runs (migrations...).
    for name in {*(name for name, _service in layout.processes), *(service.name for service in SERVICES)}:
        layout.metrics_dir(name).mkdir(parents=True, exist_ok=True)
    create_databases(layout)
    migrate(layout)
    run(layout, BY_NAME["auth"], "hotelbook_auth", "keys", "ensure")
    register_service_clients(layout)
    if hotels:
        seed_catalogue(layout, hotels)
    render_gateway(layout)
