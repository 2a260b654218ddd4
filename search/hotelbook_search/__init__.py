"""search: the hotel catalogue, and search by city, dates and guests."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask, Request, Response
from flask.sessions import SessionInterface, SessionMixin

from hotelbook_chassis import create_service_app
from hotelbook_search.actions.answers import AnswerCache, revision_for
from hotelbook_search.api import blp
from hotelbook_search.cli import init_cli
from hotelbook_search.clients import init_clients
from hotelbook_search.models import db
from hotelbook_search.settings import defaults


class NoSessions(SessionInterface):
    """search keeps nothing per visitor: no signed session cookie to look for on every request."""

    def open_session(self, app: Flask, request: Request) -> None:
        return None  # Flask then hands out its empty, read-only null session

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        return None


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = create_service_app(
        __name__,
        service="search",
        title="hotelbook search",
        config=config,
        defaults=defaults(),
        db=db,
        blueprints=[blp],
    )
    app.session_interface = NoSessions()
    init_clients(app)
    with app.app_context():
        revision = revision_for(db.engine) if app.config["KEEP_ANSWERS"] else None
    app.extensions["search_answers"] = AnswerCache(revision)
    app.extensions["search_candidates"] = AnswerCache(revision)
    app.extensions["search_pages"] = AnswerCache(revision)
    app.extensions["search_hotels"] = AnswerCache(revision)
    init_cli(app)
    return app
