"""JSON answers written directly, for the hot paths where a schema's dump costs more than the work.

The view keeps its ``@blp.response(status, Schema)`` (the schema still documents
the answer in ``/openapi.json``) and returns :func:`json_response`; flask-smorest
passes a ready response through untouched. The body must already have the
schema's shape: dates are written as ISO 8601, as marshmallow's ``fields.Date`` does.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from flask import Response


def _iso(value: Any) -> str:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def json_dumps(body: Any) -> str:
    return json.dumps(body, default=_iso, separators=(",", ":"))


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """``body`` as ``application/json`` with ``status``."""
    return Response(json_dumps(body), status=status, headers=headers, mimetype="application/json")
