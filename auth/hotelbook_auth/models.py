"""auth's tables: clients, authorization codes, refresh tokens, revoked access tokens, signing keys.

Times are integer Unix seconds (UTC): the same on SQLite and PostgreSQL, compared as numbers.
Codes and refresh tokens are stored as SHA-256 digests, client secrets as salted digests.
"""

from __future__ import annotations

import json

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hotelbook_auth import domain
from hotelbook_chassis.database import make_db

db = make_db()


class Client(db.Model):
    """A registered OAuth client; implements what Authlib's ``ClientMixin`` asks for."""

    __tablename__ = "clients"

    client_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    secret_hash: Mapped[str | None] = mapped_column(String(200))
    is_public: Mapped[bool] = mapped_column(Boolean, default=False)
    grant_types: Mapped[str] = mapped_column(Text)  # space separated
    scopes: Mapped[str] = mapped_column(Text)  # space separated
    redirect_uris_json: Mapped[str] = mapped_column(Text, default="[]")
    # What the guest sees on the login page ("Hotelbook"); ``name`` when not set.
    display_name: Mapped[str | None] = mapped_column(String(200))
    # The client's own sign-up and password-reset pages, linked from the login page (same
    # origin as a registered redirect URI: the login page links nowhere else).
    signup_uri: Mapped[str | None] = mapped_column(Text)
    password_reset_uri: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)

    @property
    def shown_name(self) -> str:
        return self.display_name or self.name

    @property
    def redirect_uris(self) -> list[str]:
        return json.loads(self.redirect_uris_json or "[]")

    @redirect_uris.setter
    def redirect_uris(self, uris: list[str]) -> None:
        self.redirect_uris_json = json.dumps(list(uris))

    # --- Authlib ClientMixin ---
    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        uris = self.redirect_uris
        return uris[0] if len(uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str | None:
        # None makes Authlib answer invalid_scope: nothing outside the registered scopes.
        return domain.allowed_scope(self.scopes.split(), scope)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris  # exact match, no prefix games

    def check_client_secret(self, client_secret: str) -> bool:
        return not self.is_public and domain.client_secret_matches(client_secret, self.secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.is_public:
            return method == "none" and endpoint in ("token", "revocation")
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in self.grant_types.split()

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types.split()


class AuthorizationCode(db.Model):
    __tablename__ = "authorization_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.client_id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(String(100))
    redirect_uri: Mapped[str | None] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(Text)
    code_challenge: Mapped[str] = mapped_column(String(128))
    code_challenge_method: Mapped[str] = mapped_column(String(10))
    # Every refresh token descended from this code shares the family id.
    family_id: Mapped[str] = mapped_column(String(36))
    expires_at: Mapped[int] = mapped_column(BigInteger)
    used_at: Mapped[int | None] = mapped_column(BigInteger)
    # When the guest proved the password (Unix milliseconds): the start of the family.
    auth_time_ms: Mapped[int | None] = mapped_column(BigInteger)

    def get_redirect_uri(self) -> str | None:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


class RefreshToken(db.Model):
    __tablename__ = "refresh_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    family_id: Mapped[str] = mapped_column(String(36), index=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.client_id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(String(100), index=True)
    scope: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    used_at: Mapped[int | None] = mapped_column(BigInteger)  # set when rotated
    revoked_at: Mapped[int | None] = mapped_column(BigInteger)
    # The access token issued with it, revoked with the family.
    access_jti: Mapped[str | None] = mapped_column(String(64))
    access_expires_at: Mapped[int | None] = mapped_column(BigInteger)
    # The log-in the family descends from (Unix milliseconds): its absolute lifetime counts from
    # here, and a session cut-off of the user ends every family that started before it.
    auth_time_ms: Mapped[int | None] = mapped_column(BigInteger)

    @property
    def family_started_ms(self) -> int:
        return self.auth_time_ms if self.auth_time_ms is not None else self.issued_at * 1000

    def check_client(self, client: Client) -> bool:
        return self.client_id == client.get_client_id()

    def get_scope(self) -> str:
        return self.scope


class SessionCutoff(db.Model):
    """Every session of the user that started at or before ``not_before_ms`` is over.

    users sends it when the password or e-mail address changes, or the account is deleted; it
    also refuses codes and refresh tokens that were on their way while it arrived."""

    __tablename__ = "session_cutoffs"

    user_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    not_before_ms: Mapped[int] = mapped_column(BigInteger)


class LoginThrottle(db.Model):
    """Failed log-ins per key: ``account:<keyed digest of the e-mail>``, ``address:<client address>``
    or ``device:<account digest>:<device id>`` (no e-mail address is stored)."""

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failure_at: Mapped[int] = mapped_column(BigInteger, index=True)
    locked_until: Mapped[int] = mapped_column(BigInteger)


class RevokedAccessToken(db.Model):
    """jti of access tokens revoked before they expire (introspection answers active: false)."""

    __tablename__ = "revoked_access_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[int] = mapped_column(BigInteger)


class SigningKey(db.Model):
    """An ES256 key as a private JWK, encrypted (``keys.seal``); the newest one not retired signs."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(100), primary_key=True)
    private_jwk: Mapped[str] = mapped_column(Text)
    created_at: Mapped[int] = mapped_column(BigInteger)
    retired_at: Mapped[int | None] = mapped_column(BigInteger, index=True)
