"""Server-side sessions: Flask's ``session`` lives in the UI's database, the cookie holds a random id.

The id is 256 random bits; the table keeps its SHA-256 (a leaked table cannot be
turned into cookies) and the session data encrypted with a key derived from
``SECRET_KEY`` (a leaked table does not leak the guest's refresh tokens).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from flask import Flask, Request, Response
from flask.sessions import SessionInterface, SessionMixin
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.datastructures import CallbackDict

from hotelbook_chassis.database import is_sqlite
from hotelbook_ui.models import BrowserSession, db

log = logging.getLogger("hotelbook.ui.sessions")


def hash_id(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class ServerSession(CallbackDict, SessionMixin):
    """The session dictionary; ``sid`` is the cookie value (None until first saved)."""

    def __init__(self, initial: dict[str, Any] | None = None, sid: str | None = None) -> None:
        def on_update(self: ServerSession) -> None:
            self.modified = True

        super().__init__(initial, on_update)
        self.sid = sid
        self.modified = False
        self.regenerate_id = False
        self.destroyed = False

    def regenerate(self) -> None:
        """Give the session a new id at login/logout (no session fixation)."""
        self.regenerate_id = True
        self.modified = True

    def destroy(self) -> None:
        self.clear()
        self.destroyed = True
        self.modified = True


class DatabaseSessionInterface(SessionInterface):
    def __init__(self, secret_key: str, lifetime: timedelta) -> None:
        key = hashlib.sha256(b"hotelbook-ui-session-data:" + secret_key.encode()).digest()
        self.fernet = Fernet(base64.urlsafe_b64encode(key))
        self.lifetime = lifetime

    # --- reading ---------------------------------------------------------------------

    def open_session(self, app: Flask, request: Request) -> ServerSession:
        sid = request.cookies.get(self.get_cookie_name(app))
        if not sid or len(sid) > 100:
            return ServerSession()
        try:
            row = db.session.get(BrowserSession, hash_id(sid))
        except SQLAlchemyError:
            log.exception("session table unreachable")
            db.session.rollback()
            return ServerSession()
        if row is None or _aware(row.expires_at) <= datetime.now(UTC):
            return ServerSession()
        try:
            data = json.loads(self.fernet.decrypt(row.data.encode()))
        except (InvalidToken, ValueError):
            return ServerSession()
        return ServerSession(data, sid=sid)

    def with_row_locked(self, session: ServerSession,
                        work: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
        """Run ``work(stored_data) -> new_data`` while holding this session's row lock.

        Used for the token refresh: auth rotates refresh tokens and treats a reused one as
        theft (it revokes the whole family), so two requests of one browser must never
        refresh at once. The second one waits here, then sees the first one's new tokens.
        """
        if not session.sid:
            return work(dict(session))
        key = hash_id(session.sid)
        db.session.rollback()  # start a fresh transaction
        if is_sqlite(db):
            # SQLite has no row locks: a write takes the database's write lock at once.
            db.session.execute(db.update(BrowserSession).where(BrowserSession.id_hash == key)
                               .values(updated_at=datetime.now(UTC)))
        row = db.session.execute(db.select(BrowserSession).where(BrowserSession.id_hash == key)
                                 .with_for_update()).scalar_one_or_none()
        try:
            stored = json.loads(self.fernet.decrypt(row.data.encode())) if row is not None else dict(session)
        except (InvalidToken, ValueError):
            stored = dict(session)
        try:
            data = work(stored)
        except BaseException:
            db.session.rollback()
            raise
        if row is not None:
            row.data = self.fernet.encrypt(json.dumps(data).encode()).decode()
            row.updated_at = datetime.now(UTC)
        db.session.commit()
        return data

    # --- writing ---------------------------------------------------------------------

    def save_session(self, app: Flask, session: ServerSession, response: Response) -> None:  # type: ignore[override]
        name = self.get_cookie_name(app)
        domain = self.get_cookie_domain(app)
        path = self.get_cookie_path(app)
        if not session.modified:
            return
        old_sid = session.sid
        if session.destroyed or not session:
            if old_sid:
                self.delete(old_sid)
                response.delete_cookie(name, domain=domain, path=path)
            return
        if old_sid and session.regenerate_id:
            self.delete(old_sid)
            old_sid = None
        sid = old_sid or secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        expires = now + self.lifetime
        tokens = session.get("tokens") or {}
        row = db.session.get(BrowserSession, hash_id(sid))
        payload = self.fernet.encrypt(json.dumps(dict(session)).encode()).decode()
        if row is None:
            row = BrowserSession(id_hash=hash_id(sid), created_at=now)
            db.session.add(row)
        row.data = payload
        row.user_id = tokens.get("user_id")
        row.updated_at = now
        row.expires_at = expires
        db.session.commit()
        session.sid = sid
        response.set_cookie(
            name, sid, expires=expires, httponly=True, secure=self.get_cookie_secure(app),
            samesite=self.get_cookie_samesite(app) or "Lax", path=path, domain=domain,
        )
        response.vary.add("Cookie")

    def delete(self, sid: str) -> None:
        db.session.execute(db.delete(BrowserSession).where(BrowserSession.id_hash == hash_id(sid)))
        db.session.commit()


def end_sessions_of(user_id: str, logged_in_before: datetime) -> int:
    """Delete the user's sessions that began at or before ``logged_in_before``; returns how many.

    A session row is made anew at log-in (the id is regenerated), so ``created_at`` is the
    log-in time; the guest's next request finds no session and is asked to log in."""
    result = db.session.execute(db.delete(BrowserSession).where(BrowserSession.user_id == user_id,
                                                                BrowserSession.created_at <= logged_in_before))
    db.session.commit()
    return result.rowcount or 0


def purge_expired() -> int:
    """Delete sessions past their expiry; returns how many."""
    result = db.session.execute(db.delete(BrowserSession).where(BrowserSession.expires_at <= datetime.now(UTC)))
    db.session.commit()
    return result.rowcount or 0


def _aware(moment: datetime) -> datetime:
    # SQLite gives naive datetimes back; they were written in UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
