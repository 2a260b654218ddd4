"""``/healthz`` (the process answers) and ``/readyz`` (its dependencies answer)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Flask, jsonify

from hotelbook_chassis.problems import problem_response

# A check returns None when fine, or a short reason when not ready.
ReadyCheck = Callable[[], "str | None"]
log = logging.getLogger("hotelbook.health")


def add_ready_check(app: Flask, name: str, check: ReadyCheck) -> None:
    app.extensions.setdefault("hotelbook_ready_checks", {})[name] = check


def init_health(app: Flask) -> None:
    @app.get("/healthz")
    def healthz():
        return jsonify(status="ok", service=app.config["SERVICE_NAME"])

    @app.get("/readyz")
    def readyz():
        failures: dict[str, str] = {}
        for name, check in app.extensions.get("hotelbook_ready_checks", {}).items():
            try:
                reason = check()
            except Exception as error:  # a failing check must not become a 500
                log.warning("ready check %s raised", name, exc_info=True)
                reason = type(error).__name__
            if reason:
                failures[name] = reason
        if failures:
            return problem_response(
                503, "Not ready: " + ", ".join(sorted(failures)), title="Service Unavailable", checks=failures
            )
        return jsonify(status="ready", service=app.config["SERVICE_NAME"])
