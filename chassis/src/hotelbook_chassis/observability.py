"""Request ids, JSON log lines and Prometheus metrics, wired into a Flask app."""

from __future__ import annotations

import logging
import os
import random
import re
import sys
import time
from typing import Any

from flask import Flask, Response, g, has_request_context, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client import REGISTRY as DEFAULT_REGISTRY
from pythonjsonlogger.json import JsonFormatter

from hotelbook_chassis import tracing

REQUEST_ID_HEADER = "X-Request-ID"
# A client's id is kept only when it is short and harmless to log and echo.
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")

HTTP_REQUESTS = Counter(
    "http_requests_total", "HTTP requests answered", ["service", "method", "endpoint", "status"]
)
HTTP_LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["service", "method", "endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


# Routes whose requests write no access line (probes and scrapes).
_NOT_LOGGED = frozenset({"/healthz", "/metrics"})


def new_request_id() -> str:
    """32 random hex digits, as the gateway's ids.

    An id names a request in logs and traces and is no secret (a client may send its
    own), so it comes from ``random`` (reseeded in every forked worker): ``uuid4`` or
    ``os.urandom`` ask the kernel for random bytes on every request, a system call
    that was a twentieth of a small request's CPU.
    """
    return f"{random.getrandbits(128):032x}"


def current_request_id() -> str | None:
    return g.get("request_id") if has_request_context() else None


class RequestContextFilter(logging.Filter):
    """Adds ``request_id``, ``trace_id``, ``span_id`` and ``service`` to every record."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id()
        if not hasattr(record, "trace_id"):
            record.trace_id, record.span_id = tracing.current_ids()
        record.service = self.service
        return True


def configure_logging(service: str, level: str = "INFO", json_lines: bool = True) -> None:
    """One handler on the root logger, JSON lines on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestContextFilter(service))
    if json_lines:
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(trace_id)s %(span_id)s %(service)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(HumanFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_hotelbook", False):
            root.removeHandler(old)
    handler._hotelbook = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("alembic").setLevel(logging.WARNING)


def _who() -> dict[str, str]:
    """Who made the request, from its verified token: ids only, never the token itself."""
    claims = g.get("token_claims") or {}
    who = {}
    if claims.get("client_id"):
        who["client_id"] = str(claims["client_id"])
    if claims.get("sub") and claims.get("sub") != claims.get("client_id"):
        who["user_id"] = str(claims["sub"])
    return who


class HumanFormatter(logging.Formatter):
    """One short line per record for a developer's terminal (``JSON_LOGS=false``)."""

    def format(self, record: logging.LogRecord) -> str:
        time_text = self.formatTime(record, "%H:%M:%S")
        trace = (getattr(record, "trace_id", None) or "-")[:8]
        if hasattr(record, "status") and hasattr(record, "duration_ms"):
            who = getattr(record, "user_id", None) or getattr(record, "client_id", None) or "-"
            return (f"{time_text} {record.method} {record.path} {record.status} {record.duration_ms:.0f}ms "
                    f"who={who} req={record.request_id} trace={trace}")
        line = f"{time_text} {record.levelname} {record.name}: {record.getMessage()} trace={trace}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def init_request_tracking(app: Flask) -> None:
    service = app.config["SERVICE_NAME"]
    access_log = logging.getLogger("hotelbook.access")
    # The metric children of each (method, route, status) seen, looked up once: ``labels()``
    # checks and joins its values and takes a lock on every call, a tenth of a small request.
    children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    @app.before_request
    def _start() -> None:
        incoming = request.environ.get("HTTP_X_REQUEST_ID")
        request_id = incoming if incoming and _SANE_REQUEST_ID.match(incoming) else new_request_id()
        g.request_id = request_id
        g.request_started = time.perf_counter()
        tracing.mark_request(request_id)

    @app.after_request
    def _finish(response: Response) -> Response:
        context = g._get_current_object()  # type: ignore[attr-defined]
        response.headers[REQUEST_ID_HEADER] = getattr(context, "request_id", None) or new_request_id()
        started = getattr(context, "request_started", None)
        elapsed = time.perf_counter() - started if started else 0.0
        current = request._get_current_object()  # type: ignore[attr-defined]
        rule = current.url_rule
        endpoint = rule.rule if rule is not None else "unmatched"
        method, status = current.method, response.status_code
        counted = children.get((method, endpoint, status))
        if counted is None:
            counted = children.setdefault((method, endpoint, status), (
                HTTP_REQUESTS.labels(service, method, endpoint, str(status)),
                HTTP_LATENCY.labels(service, method, endpoint)))
        counted[0].inc()
        counted[1].observe(elapsed)
        # The one access line of the request (gunicorn's own access log is off); its fields are
        # gathered only when it is written (LOG_LEVEL at INFO or below).
        if endpoint not in _NOT_LOGGED and access_log.isEnabledFor(logging.INFO):
            access_log.info(
                "request",
                extra={
                    "method": method,
                    "route": endpoint,
                    "path": current.path,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                    **_who(),
                },
            )
        return response

    @app.get("/metrics")
    def metrics() -> Response:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
        else:
            registry = DEFAULT_REGISTRY
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
