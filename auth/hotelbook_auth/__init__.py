"""auth: the OAuth2 authorization server (Authlib): tokens, JWKS, login page."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask
from sqlalchemy import select

from hotelbook_auth.actions.oauth import init_oauth_server
from hotelbook_auth.api import blp, wrong_methods
from hotelbook_auth.api.login import bp as login_bp
from hotelbook_auth.api.sessions import blp as sessions_blp
from hotelbook_auth.api.sessions import init_own_token_verifier
from hotelbook_auth.cli import init_cli
from hotelbook_auth.clients import init_users_client
from hotelbook_auth.models import SigningKey, db
from hotelbook_auth.settings import defaults
from hotelbook_chassis import create_service_app
from hotelbook_chassis.health import add_ready_check
from hotelbook_chassis.theme import register_theme


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = create_service_app(
        __name__,
        service="auth",
        title="hotelbook auth",
        config=config,
        defaults=defaults(),
        db=db,
        blueprints=[blp, sessions_blp],
    )
    init_oauth_server(app)
    init_own_token_verifier(app, app.extensions["auth_keys"])
    init_users_client(app)
    app.register_blueprint(login_bp)
    register_theme(app, "/oauth/theme")  # booking-ui's look, from the chassis
    app.register_blueprint(wrong_methods)
    init_cli(app)

    def signing_key_ready() -> str | None:
        active = db.session.execute(select(SigningKey.kid).where(SigningKey.retired_at.is_(None)).limit(1)).scalar()
        db.session.rollback()
        return None if active else "no active signing key"

    add_ready_check(app, "signing_key", signing_key_ready)
    return app
