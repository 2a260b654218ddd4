"""Error pages: friendly HTML for the browser, problem+json (the chassis's) for JSON routes."""

from __future__ import annotations

import logging
from http import HTTPStatus
from urllib.parse import urlsplit

from flask import Flask, g, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from hotelbook_chassis.client import PeerUnavailable
from hotelbook_chassis.problems import Problem
from hotelbook_ui.actions.guest import LoginRequired
from hotelbook_ui.clients import PeerError

log = logging.getLogger("hotelbook.ui.errors")
JSON_PATHS = ("/healthz", "/readyz", "/metrics", "/openapi.json", "/suggest/", "/session-revocations")

MESSAGES = {
    400: ("That request could not be understood", "Please go back and try again."),
    403: ("You cannot open this page", "This page belongs to another account, or your access has ended."),
    404: ("Page not found", "The page you asked for does not exist, or it has moved."),
    405: ("That did not work", "This page cannot be used that way. Please start again from the home page."),
    429: ("Too many requests", "Please wait a moment and try again."),
    500: ("Something went wrong on our side", "We have logged the problem. Please try again in a moment."),
    503: ("Temporarily unavailable", "Part of our service is not answering right now. Please try again shortly."),
}


def wants_json() -> bool:
    if request.path.startswith(JSON_PATHS):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json", "application/problem+json"])
    return best in {"application/json", "application/problem+json"}


def error_page(status: int, title: str | None = None, detail: str | None = None) -> tuple[str, int]:
    default_title, default_detail = MESSAGES.get(status, (HTTPStatus(status).phrase, ""))
    return render_template("error.html", status=status, title=title or default_title,
                           detail=detail or default_detail, request_id=g.get("request_id")), status


def _back_to() -> str:
    """Where to return after log-in: this page for a GET, the page the form was on for a POST."""
    if request.method == "GET":
        return request.full_path.rstrip("?")
    # Only the path is kept: the destination is always on this site.
    referrer = urlsplit(request.referrer or "")
    if referrer.path.startswith("/") and not referrer.path.startswith("//"):
        return referrer.path + (f"?{referrer.query}" if referrer.query else "")
    return "/"


def register_page_errors(app: Flask) -> None:
    """Registered after the chassis's handlers: HTML for pages, the chassis's answer otherwise."""
    chassis = app.error_handler_spec[None][None]
    chassis_http = chassis[HTTPException]
    chassis_any = chassis[Exception]
    chassis_problem = chassis[Problem]

    @app.errorhandler(LoginRequired)
    def login_required(_error: LoginRequired):
        return redirect(url_for("account.login", next=_back_to()))

    @app.errorhandler(CSRFError)
    def csrf_refused(error: CSRFError):
        if wants_json():
            return chassis_http(error)
        return error_page(400, "This form has expired",
                          "For your safety the form could not be sent. Please reload the page and try again.")

    @app.errorhandler(PeerError)
    def peer_error(error: PeerError):
        # A view that did not handle a peer's answer itself: never a traceback.
        log.warning("unhandled peer error: %s", error)
        status = error.status if error.status in (403, 404) else 503
        return error_page(status)

    @app.errorhandler(Problem)
    def problem(error: Problem):
        if wants_json():
            return chassis_problem(error)
        if isinstance(error, PeerUnavailable):
            return error_page(503, "Temporarily unavailable",
                              f"Our {error.peer} service is not answering right now. Please try again shortly.")
        return error_page(error.status if error.status in MESSAGES else 500, detail=error.detail)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if wants_json():
            return chassis_http(error)
        status = error.code or 500
        return error_page(status)

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        if isinstance(error, HTTPException):
            return http_error(error)
        if wants_json():
            return chassis_any(error)
        log.exception("unhandled exception")
        return error_page(500)
