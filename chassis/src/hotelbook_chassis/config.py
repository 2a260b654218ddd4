"""Configuration from the environment, with development defaults.

Nothing secret has a default in code: a development secret is generated on first
use into the ignored ``var/`` folder, so a fresh clone runs and the repository
holds no credentials.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from hotelbook_chassis import topology

# The ports table of ARCHITECTURE.md (topology.toml), with the development helpers'.
PORTS: dict[str, int] = topology.load().ports


def env_name(service: str) -> str:
    """``booking-ui`` -> ``BOOKING_UI``: the prefix of a peer's URL variable."""
    return service.upper().replace("-", "_")


def peer_url(service: str) -> str:
    """Base URL of a peer, from ``<SERVICE>_URL`` or the ports table."""
    return os.environ.get(f"{env_name(service)}_URL", f"http://127.0.0.1:{PORTS[service]}").rstrip("/")


def public_url() -> str:
    """Where guests open the site (links in mail, redirects): ``PUBLIC_URL``, else the gateway's default port."""
    return os.environ.get("PUBLIC_URL", f"http://127.0.0.1:{PORTS['gateway']}").rstrip("/")


def var_dir() -> Path:
    """Where development state lives (databases, generated secrets, keys)."""
    path = Path(os.environ.get("VAR_DIR", Path.cwd() / "var"))
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def dev_secret(name: str) -> str:
    """Read a development secret from ``var/secrets/<name>``, creating it on first use."""
    folder = var_dir() / "secrets"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / name
    try:
        # O_EXCL: two workers starting at once must agree on one value.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        value = secrets.token_urlsafe(32)
        handle.write(value)
    return value


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def base_config(service: str) -> dict[str, Any]:
    """The configuration every service starts from; a service adds its own keys."""
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{var_dir() / service}.db"
    return {
        "SERVICE_NAME": service,
        "SECRET_KEY": os.environ.get("SECRET_KEY"),  # generated into var/ when still unset (see app.py)
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(database_url),
        "AUTH_URL": peer_url("auth"),
        "JWKS_URL": os.environ.get("JWKS_URL"),  # default: AUTH_URL/.well-known/jwks.json
        # The issuer is the public base URL of auth (the gateway in a full run).
        "OAUTH_ISSUER": os.environ.get("OAUTH_ISSUER", f"http://127.0.0.1:{PORTS['gateway']}"),
        "TOKEN_AUDIENCE": os.environ.get("TOKEN_AUDIENCE", service),
        "CLIENT_ID": os.environ.get("CLIENT_ID"),
        "CLIENT_SECRET": os.environ.get("CLIENT_SECRET"),
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO"),
        "JSON_LOGS": env_bool("JSON_LOGS", True),
    }


def normalise_database_url(url: str) -> str:
    """Accept ``postgres://`` and ``postgresql://`` and use the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url
