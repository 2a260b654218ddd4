"""booking-ui: the guest's web pages (server-rendered), a confidential OAuth2 client of auth."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from hotelbook_chassis import create_service_app
from hotelbook_chassis.theme import register_theme
from hotelbook_ui.actions.sessions import DatabaseSessionInterface
from hotelbook_ui.api import blp as api_blp
from hotelbook_ui.api.errors import register_page_errors
from hotelbook_ui.api.views import register_views
from hotelbook_ui.cli import init_cli
from hotelbook_ui.clients import init_peers
from hotelbook_ui.clients.oauth import init_auth_client
from hotelbook_ui.models import db
from hotelbook_ui.settings import defaults

csrf = CSRFProtect()


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = create_service_app(
        __name__,
        service="booking-ui",
        title="hotelbook booking UI",
        config=config,
        defaults=defaults(),
        db=db,
        blueprints=[api_blp],
    )
    if config and "PUBLIC_URL" in config and "SESSION_COOKIE_SECURE" not in config:
        app.config["SESSION_COOKIE_SECURE"] = str(config["PUBLIC_URL"]).startswith("https://")
    app.session_interface = DatabaseSessionInterface(app.config["SECRET_KEY"],
                                                     app.config["PERMANENT_SESSION_LIFETIME"])
    csrf.init_app(app)
    # A service's bearer-token call, not a browser form: no cookie, so nothing to forge.
    csrf.exempt("hotelbook_ui.api.revoke_sessions")
    init_peers(app)
    init_auth_client(app)
    register_theme(app, "/static/theme")  # the look auth's log-in page shares
    register_views(app)
    register_page_errors(app)
    init_cli(app)
    return app
