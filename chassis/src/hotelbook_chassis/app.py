"""The app factory helper every service's ``create_app`` calls."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flask import Flask, jsonify
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy

from hotelbook_chassis.config import base_config, dev_secret
from hotelbook_chassis.database import init_database
from hotelbook_chassis.health import init_health
from hotelbook_chassis.observability import configure_logging, init_request_tracking
from hotelbook_chassis.openapi import problem_json_spec
from hotelbook_chassis.problems import register_problem_handlers
from hotelbook_chassis.tokens import init_tokens
from hotelbook_chassis.tracing import init_tracing, instrument_database


class ServiceApi(Api):
    """flask-smorest's Api with our problem handlers instead of its error JSON."""

    def _register_error_handlers(self) -> None:
        return None


def create_service_app(
    import_name: str,
    *,
    service: str,
    title: str,
    config: Mapping[str, Any] | None = None,
    defaults: Mapping[str, Any] | None = None,
    db: SQLAlchemy | None = None,
    blueprints: Iterable[Any] = (),
    version: str = "1.0.0",
) -> Flask:
    """Build a service app: config, logging, problems, health, metrics, API, tokens, db.

    ``defaults`` are the service's own settings (overridden by ``config``);
    ``blueprints`` are chassis :class:`~hotelbook_chassis.Blueprint` objects.
    """
    app = Flask(import_name)
    app.config.update(base_config(service))
    app.config.update(defaults or {})
    app.config.update(config or {})
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = dev_secret(f"{service}-secret-key")
    app.config.update(
        API_TITLE=title,
        API_VERSION=version,
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX=None,  # served below, rewritten for problem+json
    )
    app.json.sort_keys = False
    configure_logging(service, app.config["LOG_LEVEL"], app.config["JSON_LOGS"])
    register_problem_handlers(app)
    init_tracing(app, service)  # its before_request opens the span the others log into
    init_request_tracking(app)
    init_health(app)
    if db is not None:
        init_database(app, db)
        instrument_database(app, db)
    init_tokens(app)

    api = ServiceApi(
        app,
        spec_kwargs={
            "components": {
                "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
            }
        },
    )
    for blueprint in blueprints:
        api.register_blueprint(blueprint)
    app.extensions["hotelbook_api"] = api

    @app.get("/openapi.json")
    def openapi_json():
        return jsonify(problem_json_spec(api.spec.to_dict()))

    return app
