"""JWT access tokens in the RFC 9068 profile, signed ES256 with the active key and its kid."""

from __future__ import annotations

import time
import uuid
from typing import Any

from authlib.oauth2.rfc6749.errors import InvalidScopeError
from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator
from flask import g
from joserfc import jws, jwt
from joserfc.errors import JoseError

from hotelbook_auth import domain
from hotelbook_auth.actions.keys import ALGORITHM, KeyStore

HEADER_TYPE = "at+jwt"


def access_claims(*, issuer: str, sub: str, client_id: str, scope: str, ttl: int,
                  now: int | None = None) -> dict[str, Any]:
    now = int(time.time()) if now is None else now
    return {
        "iss": issuer,
        "sub": sub,
        # The services the scopes concern, never the client: a token is for its resource servers.
        "aud": domain.audiences_for(scope),
        "exp": now + ttl,
        "iat": now,
        "jti": uuid.uuid4().hex,
        "client_id": client_id,
        "scope": scope,
    }


def sign(keys: KeyStore, claims: dict[str, Any]) -> str:
    key = keys.active()
    return jwt.encode({"alg": ALGORITHM, "typ": HEADER_TYPE, "kid": key.kid}, claims, key, algorithms=[ALGORITHM])


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and token.startswith("ey")


def decode_access_token(keys: KeyStore, token: str, issuer: str) -> dict[str, Any] | None:
    """Claims of a token auth signed with a still-published key (expired or not), else None."""
    if len(token) > 8192 or not looks_like_jwt(token):
        return None
    try:
        header = jws.extract_compact(token.encode("ascii")).protected
        kid = header.get("kid")
        if header.get("alg") != ALGORITHM or header.get("typ") != HEADER_TYPE or not isinstance(kid, str):
            return None
        key = keys.by_kid(kid)
        if key is None:
            return None
        claims = jwt.decode(token, key, algorithms=[ALGORITHM]).claims
    except (JoseError, ValueError, UnicodeError):
        return None
    if claims.get("iss") != issuer or not isinstance(claims.get("exp"), int):
        return None
    return claims


class AccessTokenGenerator(JWTBearerTokenGenerator):
    """Authlib's RFC 9068 generator with our audience, lifetime, key and kid.

    Authlib's defaults would give ``aud`` = the client, a 10-day lifetime, and a key set
    without kid; all three are replaced here.
    """

    def __init__(self, keys: KeyStore, *, issuer: str, ttl: int) -> None:
        super().__init__(
            issuer=issuer,
            alg=ALGORITHM,
            refresh_token_generator=lambda **_: domain.new_opaque_token(),
            expires_generator=lambda client, grant_type: ttl,
        )
        self.keys = keys
        self.ttl = ttl

    def generate(self, grant_type: str, client: Any, user: Any = None, scope: str | None = None,
                 expires_in: int | None = None, include_refresh_token: bool = True) -> dict[str, Any]:
        # A guest scope only when a guest is involved; never in a client's own token.
        scope = domain.allowed_scope(client.scopes.split(), scope, for_guest=user is not None)
        if scope is None:
            raise InvalidScopeError("The requested scope is not allowed for this client and grant.")
        return super().generate(grant_type, client, user, scope, expires_in, include_refresh_token)

    def get_audiences(self, client: Any, user: Any, scope: str) -> list[str]:
        return domain.audiences_for(scope)

    def access_token_generator(self, client: Any, grant_type: str, user: Any, scope: str) -> str:
        # client_credentials: the client acts for itself, so sub = client_id (RFC 9068 section 2.2).
        sub = str(user.get_user_id()) if user else client.get_client_id()
        claims = access_claims(issuer=self.issuer, sub=sub, client_id=client.get_client_id(), scope=scope,
                               ttl=self.ttl)
        g.issued_access_claims = claims  # save_token links it to the refresh token
        return sign(self.keys, claims)


def service_token(keys: KeyStore, *, issuer: str, scope: str, ttl: int) -> str:
    """auth's own token for a peer (users:verify): auth is the issuer, so it signs locally."""
    return sign(keys, access_claims(issuer=issuer, sub="auth", client_id="auth", scope=scope, ttl=ttl))
