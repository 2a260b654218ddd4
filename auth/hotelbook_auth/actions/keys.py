"""Signing keys: the one active ES256 key signs; retired keys stay published until their tokens expired.

``rotate`` makes a new key active at once (every worker reads the active kid per token),
``retire`` drops keys retired longer than the longest token lifetime plus a leeway.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from typing import Any

from cryptography.fernet import Fernet
from flask import current_app
from joserfc.jwk import ECKey, KeySet
from sqlalchemy import delete, select, update

from hotelbook_auth.models import SigningKey, db

ALGORITHM = "ES256"


class NoSigningKey(RuntimeError):
    """No active key: run ``flask --app hotelbook_auth keys ensure``."""


def _box() -> Fernet:
    # Private keys are encrypted at rest: a database dump alone cannot forge tokens.
    secret = current_app.config["KEY_ENCRYPTION_KEY"]
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest()))


def seal(key: ECKey) -> str:
    return _box().encrypt(json.dumps(key.as_dict(private=True)).encode()).decode("ascii")


def unseal(stored: str) -> ECKey:
    return ECKey.import_key(json.loads(_box().decrypt(stored.encode("ascii"))))


class KeyStore:
    """Keys from the database; parsed keys are cached by kid (a kid never changes its key)."""

    def __init__(self) -> None:
        self._parsed: dict[str, ECKey] = {}
        self._lock = threading.Lock()

    def _parse(self, kid: str, private_jwk: str) -> ECKey:
        key = self._parsed.get(kid)
        if key is None:
            key = unseal(private_jwk)
            with self._lock:
                self._parsed[kid] = key
        return key

    def active(self) -> ECKey:
        """The key that signs now: one small query, so a rotation is seen by every worker at once."""
        row = db.session.execute(
            select(SigningKey.kid, SigningKey.private_jwk)
            .where(SigningKey.retired_at.is_(None))
            .order_by(SigningKey.created_at.desc(), SigningKey.kid)
            .limit(1)
        ).first()
        if row is None:
            raise NoSigningKey("no active signing key")
        return self._parse(row.kid, row.private_jwk)

    def published(self) -> list[ECKey]:
        """Active and retired-but-not-dropped keys: the ones a token may still be signed with."""
        rows = db.session.execute(
            select(SigningKey.kid, SigningKey.private_jwk).order_by(SigningKey.created_at.desc())
        ).all()
        return [self._parse(row.kid, row.private_jwk) for row in rows]

    def by_kid(self, kid: str) -> ECKey | None:
        if not kid or len(kid) > 100 or not kid.isprintable():  # from an untrusted token header
            return None
        row = db.session.get(SigningKey, kid)  # a dropped key must stop verifying at once
        return self._parse(row.kid, row.private_jwk) if row is not None else None

    def jwks(self) -> dict[str, Any]:
        """The public JWKS document (never private parts)."""
        return KeySet(self.published()).as_dict(private=False)


def new_key() -> ECKey:
    # kid = RFC 7638 thumbprint: unique, and says nothing about when or where.
    return ECKey.generate_key("P-256", parameters={"use": "sig", "alg": ALGORITHM}, auto_kid=True)


def rotate() -> str:
    """Add a key and make it the active one; the previous key is retired (still published)."""
    now = int(time.time())
    key = new_key()
    db.session.execute(update(SigningKey).where(SigningKey.retired_at.is_(None)).values(retired_at=now))
    db.session.add(SigningKey(kid=key.kid, private_jwk=seal(key), created_at=now))
    db.session.commit()
    return key.kid


def ensure() -> tuple[str, bool]:
    """The active kid, creating the first key when there is none; (kid, created)."""
    kid = db.session.execute(
        select(SigningKey.kid).where(SigningKey.retired_at.is_(None)).order_by(SigningKey.created_at.desc())
    ).scalar()
    if kid is not None:
        return kid, False
    return rotate(), True


def retire(max_token_lifetime: int, leeway: int) -> list[str]:
    """Drop keys retired before every token they signed expired; returns the dropped kids."""
    cutoff = int(time.time()) - max_token_lifetime - leeway
    kids = list(db.session.execute(
        select(SigningKey.kid).where(SigningKey.retired_at.is_not(None), SigningKey.retired_at <= cutoff)
    ).scalars())
    if kids:
        db.session.execute(delete(SigningKey).where(SigningKey.kid.in_(kids)))
    db.session.commit()
    return kids
