"""auth's rules in plain Python: scopes and audiences, client policy, secret and token hashing, PKCE.

Nothing here imports Flask, SQLAlchemy or Authlib, so the rules are tested without an app.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from hotelbook_chassis import topology

# PKCE (RFC 7636, S256 only) is the chassis's: booking-ui makes the challenge that auth checks.
from hotelbook_chassis.pkce import PKCE_METHOD as PKCE_METHOD
from hotelbook_chassis.pkce import pkce_matches as pkce_matches
from hotelbook_chassis.pkce import s256 as s256
from hotelbook_chassis.pkce import valid_pkce_value as valid_pkce_value

# The scope table of the topology (hotelbook_chassis/topology.toml): the services each scope
# concerns (the token's `aud`) are the services that accept it.
SCOPE_AUDIENCES: dict[str, tuple[str, ...]] = topology.load().scope_audiences()
KNOWN_SCOPES: tuple[str, ...] = tuple(SCOPE_AUDIENCES)
# Scopes that act for a guest (sub = the user id): only through authorization_code/refresh_token,
# never in a client_credentials token, whose sub is the client itself.
GUEST_SCOPES = frozenset({"guest"})

# No implicit and no password grant: only these can be registered.
GRANT_TYPES: tuple[str, ...] = ("authorization_code", "refresh_token", "client_credentials")
# Grants that act for a guest need a browser redirect back to the client.
REDIRECT_GRANTS = frozenset({"authorization_code"})



class PolicyError(ValueError):
    """A client registration breaks a rule; the message says which."""


def scope_list(scope: str | Iterable[str] | None) -> list[str]:
    """``"a b  a"`` -> ``["a", "b"]``: order kept, duplicates dropped."""
    if scope is None:
        return []
    items = scope.split() if isinstance(scope, str) else list(scope)
    return list(dict.fromkeys(item for item in items if item))


def audiences_for(scope: str | Iterable[str] | None) -> list[str]:
    """The services a set of scopes concerns, sorted, each once."""
    services: set[str] = set()
    for name in scope_list(scope):
        services.update(SCOPE_AUDIENCES.get(name, ()))
    return sorted(services)


def allowed_scope(registered: Iterable[str], requested: str | None, *, for_guest: bool | None = None) -> str | None:
    """The scope to grant, or None when the request asks for anything not registered.

    A request without ``scope`` gets every registered scope (RFC 6749 section 3.3 default).
    ``for_guest`` True keeps only guest scopes (a user is involved), False only service scopes.
    """
    registered = scope_list(registered)
    if for_guest is not None:
        registered = [name for name in registered if (name in GUEST_SCOPES) == for_guest]
    wanted = scope_list(requested) if requested is not None and requested.strip() else registered
    if not wanted or not set(wanted) <= set(registered):
        return None
    return " ".join(wanted)


def check_registration(*, grants: Iterable[str], scopes: Iterable[str], redirect_uris: Iterable[str],
                       public: bool, page_uris: Iterable[str] = ()) -> None:
    """Refuse registrations that would give more than the contract allows.

    ``page_uris`` are the client's pages the login page links to (sign-up, password reset):
    absolute http(s) URLs on the origin of one of its redirect URIs, so the login page never
    links anywhere the client does not own."""
    grants, scopes, redirect_uris = list(grants), list(scopes), list(redirect_uris)
    if not grants:
        raise PolicyError("name at least one grant")
    unknown = [g for g in grants if g not in GRANT_TYPES]
    if unknown:
        raise PolicyError(f"unsupported grant(s): {' '.join(unknown)} (allowed: {' '.join(GRANT_TYPES)})")
    if not scopes:
        raise PolicyError("name at least one scope")
    unknown = [s for s in scopes if s not in SCOPE_AUDIENCES]
    if unknown:
        raise PolicyError(f"unknown scope(s): {' '.join(unknown)}")
    if public and "client_credentials" in grants:
        raise PolicyError("a public client has no secret, so it cannot use client_credentials")
    if REDIRECT_GRANTS & set(grants) and not redirect_uris:
        raise PolicyError("authorization_code needs at least one --redirect-uri")
    if "refresh_token" in grants and "authorization_code" not in grants:
        raise PolicyError("refresh_token only comes with authorization_code")
    for uri in redirect_uris:
        parts = urlsplit(uri)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.fragment or "#" in uri:
            raise PolicyError(f"redirect URI must be an absolute http(s) URL without fragment: {uri}")
    check_page_uris(page_uris, redirect_uris)


def check_page_uris(page_uris: Iterable[str], redirect_uris: Iterable[str]) -> None:
    """The client's pages the login page links to must be on the origin of one of its redirect URIs."""
    origins = {_origin(uri) for uri in redirect_uris}
    for uri in page_uris:
        parts = urlsplit(uri)
        if parts.scheme not in ("http", "https") or not parts.netloc or "#" in uri:
            raise PolicyError(f"a page URI must be an absolute http(s) URL without fragment: {uri}")
        if _origin(uri) not in origins:
            raise PolicyError(f"a page URI must be on the origin of a redirect URI: {uri}")


def _origin(uri: str) -> tuple[str, str]:
    parts = urlsplit(uri)
    return parts.scheme.lower(), parts.netloc.lower()


# --- session lifetimes ----------------------------------------------------------------------------

def refresh_expiry(*, issued_at: int, family_started_ms: int, sliding: int, max_age: int) -> int:
    """When a new refresh token expires: ``sliding`` seconds after issue, never past the family's
    absolute end (``max_age`` after the log-in it descends from)."""
    return min(issued_at + sliding, family_started_ms // 1000 + max_age)


def family_alive(*, family_started_ms: int, now_ms: int, max_age: int, cutoff_ms: int | None) -> bool:
    """A family lives until its absolute end, and only while no session cut-off of the user
    came after the log-in it started with."""
    if now_ms >= family_started_ms + max_age * 1000:
        return False
    return cutoff_ms is None or family_started_ms > cutoff_ms


# --- failed log-ins: a brake on password guessing -----------------------------------------------

@dataclass(frozen=True)
class ThrottlePolicy:
    """How failed log-ins slow down further tries for one key (an account, or a client address).

    The first ``free_failures`` cost nothing; each failure after that locks the key for
    ``base_delay`` seconds, doubling, never longer than ``max_delay``; after ``forget_after``
    seconds without a failure the count starts again. A lock is always short: an attacker can
    slow an account down, never shut its owner out for good (and a browser the owner has logged
    in from before is not held by the account's lock at all, see api/login.py).
    """

    free_failures: int
    base_delay: int
    max_delay: int
    forget_after: int

    def lock_seconds(self, failures: int) -> int:
        if failures < self.free_failures:
            return 0
        return min(self.base_delay * 2 ** (failures - self.free_failures), self.max_delay)

    def failures_after(self, previous: int, last_failure_at: int | None, now: int) -> int:
        """The count once one more failure happened at ``now``."""
        if last_failure_at is None or now - last_failure_at > self.forget_after:
            return 1
        return previous + 1


# One account: 4 free tries, then 30 s, 60 s, 2 min ... at most 15 minutes between tries.
ACCOUNT_THROTTLE = ThrottlePolicy(free_failures=5, base_delay=30, max_delay=900, forget_after=3600)
# One client address (many accounts tried from one place): more room (shared networks), same brake.
ADDRESS_THROTTLE = ThrottlePolicy(free_failures=20, base_delay=30, max_delay=900, forget_after=3600)


def address_bucket(address: str) -> str:
    """The unit an address is counted in: the address for IPv4, its /64 network for IPv6
    (one subscriber usually holds a whole /64)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


# --- secrets -------------------------------------------------------------------------------------
#
# Client secrets are 256-bit random values, so one salted SHA-256 is enough (a slow password hash
# protects guessable passwords, not these) and keeps client authentication cheap on the token path.

def new_client_secret() -> str:
    return secrets.token_urlsafe(32)


def hash_client_secret(secret: str, *, salt: str | None = None) -> str:
    salt = salt or secrets.token_hex(16)
    digest = hashlib.sha256(f"{salt}:{secret}".encode()).hexdigest()
    return f"sha256${salt}${digest}"


def client_secret_matches(secret: str, stored: str | None) -> bool:
    if not stored or not secret:
        return False
    try:
        scheme, salt, _ = stored.split("$", 2)
    except ValueError:
        return False
    if scheme != "sha256":
        return False
    return hmac.compare_digest(hash_client_secret(secret, salt=salt), stored)


def token_digest(token: str) -> str:
    """How codes and refresh tokens are stored: a database leak gives nothing usable."""
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def new_opaque_token() -> str:
    return secrets.token_urlsafe(32)
