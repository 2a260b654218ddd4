"""PKCE (RFC 7636) with S256 only: the client's verifier and challenge, and the server's check."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

PKCE_METHOD = "S256"
_PKCE_VALUE = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")


def new_code_verifier() -> str:
    """43-128 characters from the unreserved set; 64 random bytes give 86."""
    return secrets.token_urlsafe(64)


def s256(verifier: str) -> str:
    """S256: BASE64URL(SHA256(verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def valid_pkce_value(value: str | None) -> bool:
    """A verifier or challenge of the allowed length and characters."""
    return bool(value) and _PKCE_VALUE.match(value) is not None  # type: ignore[arg-type]


def pkce_matches(verifier: str, challenge: str) -> bool:
    return valid_pkce_value(verifier) and hmac.compare_digest(s256(verifier), challenge)
