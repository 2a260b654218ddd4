"""Bearer-token verification against auth's JWKS, with no call to auth per request.

The key set is fetched once and cached; an unknown ``kid`` triggers one refetch
(at most every ``min_refetch_seconds``, so random kids cannot flood auth). A token
must be signed with an allowed asymmetric algorithm and carry a valid ``iss``,
an ``aud`` naming this service, an unexpired ``exp`` and the scope the endpoint
needs.
"""

from __future__ import annotations

import functools
import hashlib
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import requests
from flask import Flask, current_app, g, request
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from prometheus_client import Counter

from hotelbook_chassis.problems import Problem

ALLOWED_ALGORITHMS = ("ES256", "RS256")
JWKS_FETCHES = Counter("jwks_fetches_total", "JWKS documents fetched from auth", ["service"])
F = TypeVar("F", bound=Callable[..., Any])


class InvalidToken(Exception):
    """The token cannot be trusted; the message says why (logged, not returned)."""


class JWKSCache:
    """Thread-safe cache of auth's public keys."""

    def __init__(
        self,
        fetch: Callable[[], dict[str, Any]],
        *,
        ttl_seconds: float = 3600,
        min_refetch_seconds: float = 10,
        service: str = "unknown",
    ) -> None:
        self._fetch = fetch
        self._ttl = ttl_seconds
        self._min_refetch = min_refetch_seconds
        self._service = service
        self._lock = threading.Lock()
        self._keys: KeySet | None = None
        self._fetched_at = float("-inf")

    @classmethod
    def from_url(cls, url: str, *, timeout: tuple[float, float] = (2, 5), **kwargs: Any) -> JWKSCache:
        session = requests.Session()

        def fetch() -> dict[str, Any]:
            response = session.get(url, timeout=timeout)
            response.raise_for_status()
            return response.json()

        return cls(fetch, **kwargs)

    def _refresh(self) -> None:
        JWKS_FETCHES.labels(self._service).inc()
        self._keys = KeySet.import_key_set(self._fetch())
        self._fetched_at = time.monotonic()

    def key_for(self, kid: str) -> Any:
        with self._lock:
            now = time.monotonic()
            stale = now - self._fetched_at > self._ttl
            unknown = self._keys is None or not _has_kid(self._keys, kid)
            if stale or (unknown and now - self._fetched_at > self._min_refetch):
                try:
                    self._refresh()
                except (requests.RequestException, ValueError, JoseError) as error:
                    if self._keys is None:
                        raise InvalidToken(f"key set unavailable: {error}") from error
            if self._keys is None or not _has_kid(self._keys, kid):
                raise InvalidToken(f"unknown kid {kid!r}")
            return self._keys.get_by_kid(kid)


def _has_kid(keys: KeySet, kid: str) -> bool:
    return any(key.kid == kid for key in keys.keys)


VERIFIED_TOKENS_KEPT = 10_000


class TokenVerifier:
    def __init__(
        self,
        keys: JWKSCache,
        *,
        issuer: str,
        audience: str,
        algorithms: tuple[str, ...] = ALLOWED_ALGORITHMS,
        leeway: int = 30,
    ) -> None:
        self.keys = keys
        self.algorithms = list(algorithms)
        self.claims_registry = jwt.JWTClaimsRegistry(
            leeway=leeway,
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": audience},
            exp={"essential": True},
            iat={"essential": True},
            sub={"essential": True},
            jti={"essential": True},
        )
        # Tokens whose signature and header already checked out, by their SHA-256: a guest or a
        # service sends the same token for minutes, and an ECDSA verification costs more than the
        # rest of a small request. The claims (exp first) are checked again on every use.
        self._verified: dict[bytes, dict[str, Any]] = {}

    def verify(self, token: str) -> dict[str, Any]:
        """Return the token's claims, or raise :class:`InvalidToken`."""
        if len(token) > 8192:
            raise InvalidToken("token too large")
        digest = hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()
        claims = self._verified.get(digest)
        if claims is not None:
            try:
                self.claims_registry.validate(claims)
            except (JoseError, ValueError) as error:
                self._verified.pop(digest, None)
                raise InvalidToken(f"{type(error).__name__}: {error}") from error
            return claims
        claims = self._verify_signed(token)
        if len(self._verified) >= VERIFIED_TOKENS_KEPT:
            self._verified.clear()  # simplest bound; refilled by the next requests
        self._verified[digest] = claims
        return claims

    def _verify_signed(self, token: str) -> dict[str, Any]:
        try:
            header = jws.extract_compact(token.encode("ascii")).protected
        except (JoseError, ValueError, UnicodeError) as error:
            raise InvalidToken(f"malformed token: {error}") from error
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in self.algorithms:
            raise InvalidToken(f"algorithm {alg!r} not allowed")
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("token has no kid")
        key = self.keys.key_for(kid)
        try:
            decoded = jwt.decode(token, key, algorithms=self.algorithms)
            self.claims_registry.validate(decoded.claims)
        except (JoseError, ValueError) as error:
            raise InvalidToken(f"{type(error).__name__}: {error}") from error
        if header.get("typ", "").lower() not in {"at+jwt", "application/at+jwt"}:
            raise InvalidToken("not an access token (typ)")
        return decoded.claims


def init_tokens(app: Flask) -> None:
    """Attach a verifier built from config (``JWKS`` for a fixed key set in tests)."""
    config = app.config
    if config.get("JWKS") is not None:
        static = config["JWKS"]
        keys = JWKSCache(lambda: static, service=config["SERVICE_NAME"])
    else:
        keys = JWKSCache.from_url(
            config.get("JWKS_URL") or f"{config['AUTH_URL']}/.well-known/jwks.json",
            service=config["SERVICE_NAME"],
        )
    app.extensions["hotelbook_tokens"] = TokenVerifier(
        keys, issuer=config["OAUTH_ISSUER"], audience=config["TOKEN_AUDIENCE"]
    )


def _challenge(error: str | None = None, scope: str | None = None) -> dict[str, str]:
    parts = ['Bearer realm="hotelbook"']
    if error:
        parts.append(f'error="{error}"')
    if scope:
        parts.append(f'scope="{scope}"')
    return {"WWW-Authenticate": ", ".join(parts)}


def authenticate() -> dict[str, Any]:
    """Verify the request's bearer token once and keep its claims on ``g``."""
    if "token_claims" in g:
        return g.token_claims
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(401, "A bearer token is required.", type="unauthorized", headers=_challenge())
    verifier: TokenVerifier = current_app.extensions["hotelbook_tokens"]
    try:
        claims = verifier.verify(token.strip())
    except InvalidToken as error:
        current_app.logger.info("rejected token: %s", error)
        raise Problem(
            401, "The access token is invalid or expired.", type="invalid-token", headers=_challenge("invalid_token")
        ) from error
    g.token_claims = claims
    return claims


def token_scopes(claims: dict[str, Any]) -> set[str]:
    return set(str(claims.get("scope", "")).split())


def require_scope(*scopes: str) -> Callable[[F], F]:
    """The endpoint needs a valid token carrying at least one of ``scopes``."""
    if not scopes:
        raise ValueError("name at least one scope")

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            claims = authenticate()
            if not token_scopes(claims) & set(scopes):
                raise Problem(
                    403,
                    f"This endpoint needs scope {' or '.join(scopes)}.",
                    type="insufficient-scope",
                    headers=_challenge("insufficient_scope", " ".join(scopes)),
                )
            return view(*args, **kwargs)

        wrapper._required_scopes = scopes  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorator


def current_claims() -> dict[str, Any]:
    return g.token_claims


def current_user_id() -> str:
    """The guest the token acts for; only tokens with scope ``guest`` have one."""
    claims = g.token_claims
    if "guest" not in token_scopes(claims):
        raise Problem(403, "This endpoint acts for a guest and needs a guest token.", type="insufficient-scope")
    return str(claims["sub"])


def has_scope(scope: str) -> bool:
    return scope in token_scopes(g.get("token_claims") or {})
