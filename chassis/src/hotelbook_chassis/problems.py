"""RFC 9457 problem details for every error a service answers.

Handlers turn any HTTP error, request-validation error or unexpected exception
into ``application/problem+json`` with ``type``, ``title``, ``status``,
``detail`` and ``request_id``; validation errors also list ``invalid_params``.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from flask import Flask, Response, g, json
from werkzeug.exceptions import HTTPException

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("hotelbook.problems")


def problem_type(slug: str) -> str:
    return f"urn:problem:hotelbook:{slug}"


class Problem(Exception):
    """Raise anywhere in a request to answer with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str | None = None,
        *,
        title: str | None = None,
        type: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or title or str(status))
        self.status = status
        self.detail = detail
        self.title = title or HTTPStatus(status).phrase
        self.type = problem_type(type) if type and ":" not in type else (type or "about:blank")
        self.headers = headers or {}
        self.extra = extra

    def to_response(self) -> Response:
        return problem_response(
            self.status, self.detail, title=self.title, type=self.type, headers=self.headers, **self.extra
        )


class ValidationProblem(Problem):
    """400 naming each invalid field: ``invalid_params: [{name, reason}]``."""

    def __init__(self, invalid_params: list[dict[str, str]], detail: str | None = None) -> None:
        names = ", ".join(p["name"] for p in invalid_params)
        super().__init__(
            400,
            detail or f"Invalid request: {names}.",
            title="Request validation failed",
            type="validation-error",
            invalid_params=invalid_params,
        )


def invalid(name: str, reason: str) -> ValidationProblem:
    """Shorthand for a one-field validation problem raised by service code."""
    return ValidationProblem([{"name": name, "reason": reason}])


def problem_body(status: int, detail: str | None = None, type: str | None = None, *, title: str | None = None,
                 **extra: Any) -> dict[str, Any]:
    """A problem document as a dict, for an answer kept and replayed later (payments' idempotent answers);
    ``type`` is a slug (``not-found``) or a full URI. Raise ``Problem`` to answer one now."""
    return {"type": problem_type(type) if type and ":" not in type else (type or "about:blank"),
            "title": title or HTTPStatus(status).phrase, "status": status,
            "detail": detail or HTTPStatus(status).description, **extra}


def problem_response(
    status: int,
    detail: str | None = None,
    *,
    title: str | None = None,
    type: str = "about:blank",
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    body: dict[str, Any] = {
        "type": type,
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail or HTTPStatus(status).description,
        "request_id": g.get("request_id"),
    }
    body.update(extra)
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def flatten_messages(messages: Any, prefix: str = "") -> list[dict[str, str]]:
    """marshmallow/webargs nested error dicts -> ``[{name, reason}]``."""
    out: list[dict[str, str]] = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            # webargs keys the first level by location (json, query...): drop it.
            if not prefix and key in {"json", "query", "querystring", "form", "headers", "files", "view_args"}:
                out.extend(flatten_messages(value, ""))
            else:
                out.extend(flatten_messages(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(messages, list) and messages and all(isinstance(m, str) for m in messages):
        out.append({"name": prefix or "body", "reason": " ".join(messages)})
    elif isinstance(messages, list):
        for item in messages:
            out.extend(flatten_messages(item, prefix))
    else:
        out.append({"name": prefix or "body", "reason": str(messages)})
    return out


def _handle_http_exception(error: HTTPException) -> Response:
    data = getattr(error, "data", None) or {}
    if "messages" in data:  # raised by webargs when a schema rejects the request
        response = ValidationProblem(flatten_messages(data["messages"])).to_response()
    else:
        status = error.code or 500
        detail = error.description if status < 500 else None
        response = problem_response(status, detail, title=HTTPStatus(status).phrase)
        if status == 405 and hasattr(error, "valid_methods") and error.valid_methods:
            response.headers["Allow"] = ", ".join(error.valid_methods)
    for key, value in (data.get("headers") or {}).items():
        response.headers[key] = value
    return response


def _handle_unexpected(error: Exception) -> Response:
    if isinstance(error, HTTPException):
        return _handle_http_exception(error)
    log.exception("unhandled exception")
    return problem_response(500, "An unexpected error occurred; it has been logged.")


def register_problem_handlers(app: Flask) -> None:
    app.register_error_handler(Problem, lambda error: error.to_response())
    app.register_error_handler(HTTPException, _handle_http_exception)
    app.register_error_handler(Exception, _handle_unexpected)
