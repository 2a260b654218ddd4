"""Authlib's Flask authorization server, configured for hotelbook.

Grants: client_credentials, authorization_code with PKCE (S256 required for every client),
refresh_token rotated on every use; reusing a spent refresh token (or code) revokes its
whole family. Endpoints: RFC 7662 introspection and RFC 7009 revocation.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import InvalidGrantError, InvalidRequestError, InvalidScopeError, OAuth2Error
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from flask import Flask, current_app, g
from sqlalchemy import case, delete, select, update

from hotelbook_auth import domain
from hotelbook_auth.actions.keys import KeyStore
from hotelbook_auth.actions.tokens import AccessTokenGenerator, decode_access_token, looks_like_jwt
from hotelbook_auth.models import AuthorizationCode, Client, RefreshToken, RevokedAccessToken, SessionCutoff, db
from hotelbook_chassis.clock import now_ms
from hotelbook_chassis.clock import now_seconds as now

log = logging.getLogger("hotelbook.auth")

CONFIDENTIAL_METHODS = ["client_secret_basic", "client_secret_post"]
ALL_METHODS = [*CONFIDENTIAL_METHODS, "none"]

# error_description for errors Authlib raises without one (RFC 6749 section 5.2 answers carry it).
DEFAULT_DESCRIPTIONS = {
    "invalid_request": "The request is missing a parameter or is malformed.",
    "invalid_client": "Client authentication failed.",
    "invalid_grant": "The grant is invalid, expired, revoked or was issued to another client.",
    "unauthorized_client": "The client may not use this grant type.",
    "unsupported_grant_type": "This grant type is not supported.",
    "invalid_scope": "The requested scope is invalid or not allowed for this client.",
    "unsupported_token_type": "This token type is not supported.",
    "access_denied": "The resource owner denied the request.",
    "unsupported_response_type": "This response type is not supported.",
    "server_error": "The server could not answer.",
    "temporarily_unavailable": "The server is temporarily unavailable.",
}


def insert_for_dialect(model: Any) -> Any:
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(model)


@dataclass
class Guest:
    """The resource owner as auth knows it: users' id (auth stores no user data)."""

    id: str

    def get_user_id(self) -> str:
        return self.id


def query_client(client_id: str | None) -> Client | None:
    # isprintable: a NUL byte would be a database error on PostgreSQL, not an unknown client.
    if not client_id or len(client_id) > 100 or not client_id.isprintable():
        return None
    return db.session.get(Client, client_id)


def revoke_family(family_id: str) -> None:
    """Reuse detected or logout: every refresh token of the family and the access tokens issued with it."""
    stamp = now()
    rows = db.session.execute(
        select(RefreshToken.access_jti, RefreshToken.access_expires_at)
        .where(RefreshToken.family_id == family_id, RefreshToken.access_jti.is_not(None),
               RefreshToken.access_expires_at > stamp)
    ).all()
    db.session.execute(
        update(RefreshToken).where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=stamp)
    )
    for jti, expires_at in rows:
        revoke_jti(jti, expires_at)


def revoke_jti(jti: str, expires_at: int) -> None:
    """Idempotent, also when two requests revoke the same token at once."""
    db.session.execute(insert_for_dialect(RevokedAccessToken).values(jti=jti, expires_at=expires_at)
                       .on_conflict_do_nothing())


def session_cutoff(user_id: str) -> int | None:
    """The user's latest session cut-off (Unix ms), if users ever sent one."""
    return db.session.scalar(select(SessionCutoff.not_before_ms).where(SessionCutoff.user_id == user_id))


def family_alive(family_started_ms: int, user_id: str) -> bool:
    return domain.family_alive(family_started_ms=family_started_ms, now_ms=now_ms(),
                               max_age=current_app.config["REFRESH_FAMILY_MAX_AGE"],
                               cutoff_ms=session_cutoff(user_id))


def revoke_user_sessions(user_id: str, not_before_ms: int) -> int:
    """End every refresh-token family of ``user_id`` that started at or before ``not_before_ms``.

    The cut-off is kept (the later one wins, so a late duplicate changes nothing) and checked
    on every code exchange and refresh: a log-in that was half-way while this ran is refused
    too. Idempotent; returns how many families were still live.
    """
    insert = insert_for_dialect(SessionCutoff).values(user_id=user_id, not_before_ms=not_before_ms)
    db.session.execute(insert.on_conflict_do_update(
        index_elements=[SessionCutoff.user_id],
        set_={"not_before_ms": case((insert.excluded.not_before_ms > SessionCutoff.not_before_ms,
                                     insert.excluded.not_before_ms), else_=SessionCutoff.not_before_ms)},
    ))
    rows = db.session.execute(
        select(RefreshToken).where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
    ).scalars().all()
    families = {row.family_id for row in rows if row.family_started_ms <= not_before_ms}
    for family_id in sorted(families):
        revoke_family(family_id)
    db.session.commit()
    return len(families)


def purge_expired(grace: int) -> dict[str, int]:
    """Delete codes, refresh tokens and revoked jtis expired more than ``grace`` seconds ago."""
    cutoff = now() - grace
    counts = {
        "authorization_codes": db.session.execute(
            delete(AuthorizationCode).where(AuthorizationCode.expires_at < cutoff)).rowcount,
        "refresh_tokens": db.session.execute(delete(RefreshToken).where(RefreshToken.expires_at < cutoff)).rowcount,
        "revoked_access_tokens": db.session.execute(
            delete(RevokedAccessToken).where(RevokedAccessToken.expires_at < cutoff)).rowcount,
    }
    from hotelbook_auth.actions.throttle import purge  # the login page's module, only needed here

    counts["login_throttles"] = purge()
    db.session.commit()
    return counts


def save_token(token: dict[str, Any], request: Any) -> None:
    """Only refresh tokens are kept (hashed); access tokens are self-contained JWTs.

    Nothing is committed here: the grant commits once the old code or refresh token is spent.
    """
    if "refresh_token" not in token:
        return
    claims = g.get("issued_access_claims") or {}
    issued = now()
    started = getattr(request, "auth_time_ms", None) or now_ms()
    db.session.add(RefreshToken(
        token_hash=domain.token_digest(token["refresh_token"]),
        family_id=request.family_id,
        client_id=request.client.get_client_id(),
        user_id=str(request.user.get_user_id()),
        scope=token.get("scope", ""),
        issued_at=issued,
        expires_at=domain.refresh_expiry(issued_at=issued, family_started_ms=started,
                                         sliding=current_app.config["REFRESH_TOKEN_TTL"],
                                         max_age=current_app.config["REFRESH_FAMILY_MAX_AGE"]),
        access_jti=claims.get("jti"),
        access_expires_at=claims.get("exp"),
        auth_time_ms=started,
    ))
    db.session.flush()


class S256CodeChallenge(CodeChallenge):
    """PKCE with S256 only, for every client: no plain, no missing challenge or verifier."""

    SUPPORTED_CODE_CHALLENGE_METHOD = [domain.PKCE_METHOD]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload
        for name in ("code_challenge", "code_challenge_method"):
            if len(data.datalist.get(name, [])) > 1:
                raise InvalidRequestError(f"Multiple '{name}' in request.")
        challenge = data.data.get("code_challenge")
        method = data.data.get("code_challenge_method")
        if not challenge:
            raise InvalidRequestError("PKCE is required: send code_challenge with code_challenge_method=S256.")
        if method != domain.PKCE_METHOD:
            raise InvalidRequestError("Only code_challenge_method=S256 is supported.")
        if not domain.valid_pkce_value(challenge):
            raise InvalidRequestError("Invalid 'code_challenge'.")

    def validate_code_verifier(self, grant: Any, result: Any) -> None:
        request = grant.request
        verifier = request.form.get("code_verifier")
        if not verifier:
            raise InvalidRequestError("Missing 'code_verifier'.")
        if not domain.valid_pkce_value(verifier):
            raise InvalidRequestError("Invalid 'code_verifier'.")
        code = request.authorization_code
        if code.code_challenge_method != domain.PKCE_METHOD or not domain.pkce_matches(
                verifier, code.code_challenge):
            raise InvalidGrantError("The code_verifier does not match the code_challenge.")


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ALL_METHODS

    def validate_authorization_request(self) -> str:
        redirect_uri = super().validate_authorization_request()
        # Only guest scopes act for a guest; without `scope` the client's guest scopes are meant.
        scope = domain.allowed_scope(self.request.client.scopes.split(), self.request.payload.scope, for_guest=True)
        if scope is None:
            raise InvalidScopeError("Only guest scopes can be granted by a guest.", redirect_uri=redirect_uri,
                                    state=self.request.payload.state)
        self.request.scope = scope
        return redirect_uri

    def save_authorization_code(self, code: str, request: Any) -> None:
        payload = request.payload.data
        db.session.add(AuthorizationCode(
            code_hash=domain.token_digest(code),
            client_id=request.client.get_client_id(),
            user_id=str(request.user.get_user_id()),
            redirect_uri=request.payload.redirect_uri,
            scope=request.scope,
            code_challenge=payload.get("code_challenge"),
            code_challenge_method=payload.get("code_challenge_method"),
            family_id=str(uuid.uuid4()),
            expires_at=now() + current_app.config["AUTH_CODE_TTL"],
            # Taken before the password was checked: a change racing with this log-in still ends it.
            auth_time_ms=g.get("login_started_ms") or now_ms(),
        ))
        db.session.commit()

    def query_authorization_code(self, code: str, client: Client) -> AuthorizationCode | None:
        """Spend the code atomically; a second use revokes what the first one got (RFC 6749 4.1.2)."""
        digest = domain.token_digest(code)
        row = db.session.get(AuthorizationCode, digest)
        if row is None or row.client_id != client.get_client_id():
            return None
        if row.used_at is not None:
            log.warning("authorization code reused by client %s: revoking its tokens", row.client_id)
            revoke_family(row.family_id)
            db.session.commit()
            return None
        if row.expires_at <= now():
            return None
        # A code from before this column existed: it was made AUTH_CODE_TTL before it expires.
        started = (row.auth_time_ms if row.auth_time_ms is not None
                   else (row.expires_at - current_app.config["AUTH_CODE_TTL"]) * 1000)
        if not family_alive(started, row.user_id):
            # The password or address changed (or the account went) after this log-in.
            log.info("authorization code from before a session cut-off refused")
            return None
        spent = db.session.execute(
            update(AuthorizationCode)
            .where(AuthorizationCode.code_hash == digest, AuthorizationCode.used_at.is_(None))
            .values(used_at=now())
        ).rowcount
        db.session.commit()  # spent even if a later check fails: a code is tried once
        if spent != 1:
            return None
        self.request.family_id = row.family_id
        self.request.auth_time_ms = started
        return row

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        # Kept (marked used) for reuse detection; this is where the new refresh token commits.
        db.session.commit()

    def authenticate_user(self, authorization_code: AuthorizationCode) -> Guest:
        return Guest(authorization_code.user_id)


class RefreshTokenGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ALL_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True  # rotation: every use gives a new one

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshToken | None:
        row = db.session.get(RefreshToken, domain.token_digest(refresh_token))
        if row is None or row.revoked_at is not None:
            return None
        if row.used_at is not None:
            log.warning("refresh token reused (client %s): revoking its family", row.client_id)
            revoke_family(row.family_id)
            db.session.commit()
            return None
        if row.expires_at <= now():
            return None
        if not family_alive(row.family_started_ms, row.user_id):
            # Past the family's absolute lifetime, or the user's sessions were ended since.
            revoke_family(row.family_id)
            db.session.commit()
            return None
        self.request.family_id = row.family_id
        self.request.auth_time_ms = row.family_started_ms
        return row

    def authenticate_user(self, refresh_token: RefreshToken) -> Guest:
        return Guest(refresh_token.user_id)

    def revoke_old_credential(self, refresh_token: RefreshToken) -> None:
        spent = db.session.execute(
            update(RefreshToken)
            .where(RefreshToken.token_hash == refresh_token.token_hash, RefreshToken.used_at.is_(None),
                   RefreshToken.revoked_at.is_(None))
            .values(used_at=now())
        ).rowcount
        if spent != 1:
            # Spent by a concurrent request in the meantime: that is reuse too.
            db.session.rollback()
            revoke_family(refresh_token.family_id)
            db.session.commit()
            raise InvalidGrantError("The refresh token was already used.")
        db.session.commit()


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = CONFIDENTIAL_METHODS


@dataclass
class AccessTokenRecord:
    """A decoded JWT access token, as the endpoints see it."""

    claims: dict[str, Any]

    def check_client(self, client: Client) -> bool:
        return self.claims.get("client_id") == client.get_client_id()

    def is_expired(self) -> bool:
        return self.claims["exp"] <= now()

    def is_revoked(self) -> bool:
        return db.session.get(RevokedAccessToken, str(self.claims.get("jti"))) is not None


class RefreshTokenRecord:
    def __init__(self, row: RefreshToken) -> None:
        self.row = row

    def check_client(self, client: Client) -> bool:
        return self.row.check_client(client)

    def is_expired(self) -> bool:
        return self.row.expires_at <= now()

    def is_revoked(self) -> bool:
        # A rotated token is spent: not active any more.
        return self.row.revoked_at is not None or self.row.used_at is not None


def find_token(token: str, hint: str | None) -> AccessTokenRecord | RefreshTokenRecord | None:
    """Either kind, whatever the hint says (a hint only orders the lookups, RFC 7009/7662)."""
    if not token or len(token) > 8192:
        return None
    if looks_like_jwt(token):
        claims = decode_access_token(current_app.extensions["auth_keys"], token, current_app.config["OAUTH_ISSUER"])
        return AccessTokenRecord(claims) if claims else None
    row = db.session.get(RefreshToken, domain.token_digest(token))
    return RefreshTokenRecord(row) if row else None


class Introspection(IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = CONFIDENTIAL_METHODS

    def query_token(self, token_string: str, token_type_hint: str | None) -> Any:
        return find_token(token_string, token_type_hint)

    def check_permission(self, token: Any, client: Client, request: Any) -> bool:
        # Resource servers may introspect any access token; a refresh token only its own client.
        return isinstance(token, AccessTokenRecord) or token.check_client(client)

    def introspect_token(self, token: Any) -> dict[str, Any]:
        if isinstance(token, AccessTokenRecord):
            claims = token.claims
            return {"active": True, "token_type": "Bearer", "scope": claims.get("scope"),
                    "client_id": claims.get("client_id"), "sub": claims.get("sub"), "aud": claims.get("aud"),
                    "iss": claims.get("iss"), "exp": claims.get("exp"), "iat": claims.get("iat"),
                    "jti": claims.get("jti")}
        row = token.row
        return {"active": True, "token_type": "refresh_token", "scope": row.scope, "client_id": row.client_id,
                "sub": row.user_id, "iss": current_app.config["OAUTH_ISSUER"], "exp": row.expires_at,
                "iat": row.issued_at}


class Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = ALL_METHODS

    def query_token(self, token_string: str, token_type_hint: str | None) -> Any:
        return find_token(token_string, token_type_hint)

    def revoke_token(self, token: Any, request: Any) -> None:
        if isinstance(token, AccessTokenRecord):
            if not token.is_expired():
                revoke_jti(str(token.claims["jti"]), int(token.claims["exp"]))
        else:
            # Logging out ends the whole grant, not just this one token.
            revoke_family(token.row.family_id)
        db.session.commit()


class AuthServer(AuthorizationServer):
    def handle_error_response(self, request: Any, error: OAuth2Error) -> Any:
        if not error.description:
            error.description = error.get_error_description() or DEFAULT_DESCRIPTIONS.get(error.error, "")
        if error.error == "unsupported_token_type":
            error.status_code = 400  # RFC 7009 2.2.1 uses RFC 6749 5.2 errors; Authlib says 401
        db.session.rollback()
        return super().handle_error_response(request, error)


def init_oauth_server(app: Flask) -> AuthServer:
    keys = KeyStore()
    app.extensions["auth_keys"] = keys
    app.config["OAUTH2_SCOPES_SUPPORTED"] = list(domain.KNOWN_SCOPES)
    server = AuthServer(app, query_client=query_client, save_token=save_token)
    server.register_token_generator(
        "default",
        AccessTokenGenerator(keys, issuer=app.config["OAUTH_ISSUER"], ttl=app.config["ACCESS_TOKEN_TTL"]),
    )
    server.register_grant(AuthorizationCodeGrant, [S256CodeChallenge(required=True)])
    server.register_grant(RefreshTokenGrant)
    server.register_grant(ClientCredentialsGrant)
    server.register_endpoint(Introspection)
    server.register_endpoint(Revocation)
    app.extensions["auth_server"] = server
    return server


def oauth_server() -> AuthServer:
    return current_app.extensions["auth_server"]
