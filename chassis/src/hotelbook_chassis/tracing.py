"""Distributed tracing with OpenTelemetry, wired once for every service.

Tracing is on when an OTLP endpoint is configured (``OTEL_EXPORTER_OTLP_ENDPOINT``
or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``; http/protobuf, so a local trace store,
an OpenTelemetry Collector, Jaeger or Tempo all work by configuration alone).
Then each process gets a tracer provider with a batch exporter: a server span per
sampled request, the requests instrumentation's client span per outgoing call, and
a span only for SQL statements slower than ``TRACE_SQL_SLOWER_THAN_MS`` (the others
are counted and timed on the request's span); the sampler is the
SDK's, set by ``OTEL_TRACES_SAMPLER``/``OTEL_TRACES_SAMPLER_ARG`` (default:
follow the caller's decision, sample every root).

Off (the default), nothing of the SDK is loaded and no span is made: the
incoming W3C ``traceparent`` is only read for the log lines and passed on as is
by :class:`~hotelbook_chassis.client.ServiceClient`, so one trace id still ties
together the log lines of a request across services.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
import time
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from flask import Flask, g, has_request_context, request

TRACEPARENT = "traceparent"
REQUEST_ID_ATTRIBUTE = "hotelbook.request_id"
_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
# Health checks and scrapes would drown the traces that matter.
EXCLUDED_URLS = "/healthz,/readyz,/metrics"

log = logging.getLogger(__name__)
_lock = threading.Lock()
_provider: Any = None
# The context a background job carries (outbox): the traceparent of the request that wrote it.
_background: ContextVar[str | None] = ContextVar("hotelbook_traceparent", default=None)


def exporter_endpoint() -> str | None:
    """The configured OTLP endpoint, or None when tracing is off."""
    if os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return None
    return (os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or None)


def tracing_enabled() -> bool:
    return _provider is not None


def setup_tracing(service: str) -> bool:
    """Install the process's tracer provider once; False (and nothing loaded) when off."""
    global _provider
    if _provider is not None:
        return True
    if not exporter_endpoint():
        return False
    with _lock:
        if _provider is not None:
            return True
        from opentelemetry import trace
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.instrumentation.requests import RequestsInstrumentor
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        provider = TracerProvider(resource=Resource.create({"service.name": service}))
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        trace.set_tracer_provider(provider)
        RequestsInstrumentor().instrument(request_hook=_name_client_span)
        _provider = provider
    return True


def _name_client_span(span: Any, prepared: Any) -> None:
    """``POST /reservations/<id>/confirm`` says more than the instrumentation's bare ``POST``."""
    if span.is_recording():
        path = (prepared.path_url or "/").split("?", 1)[0]
        span.update_name(f"{prepared.method} {path}")


def init_tracing(app: Flask, service: str) -> None:
    """Server spans for this app (call before other ``before_request`` hooks).

    A request whose caller decided not to sample it (``traceparent`` flag ``00``, as the
    gateway sends for most requests at a sampling ratio below 1) makes no span at all: the
    instrumentations of SQL and outgoing calls are suppressed for it, and the incoming
    ``traceparent`` is passed on as it came (as when tracing is off). A sampled request gets
    one server span, named by its route once it is known.
    """
    if not setup_tracing(service):
        return
    from opentelemetry import context, trace
    from opentelemetry.propagate import extract

    tracer = trace.get_tracer("hotelbook.server")
    suppressed = _suppressed_context()
    inner = app.wsgi_app

    def traced_app(environ: dict[str, Any], start_response: Any) -> Any:
        incoming = environ.get("HTTP_TRACEPARENT")
        if environ.get("PATH_INFO") in _EXCLUDED_PATHS or _unsampled(incoming):
            token = context.attach(suppressed)
            try:
                return inner(environ, start_response)
            finally:
                context.detach(token)
        parent = extract({TRACEPARENT: incoming, "tracestate": environ.get("HTTP_TRACESTATE", "")}) \
            if incoming else None
        method = environ.get("REQUEST_METHOD", "GET")
        span = tracer.start_span(method, context=parent, kind=trace.SpanKind.SERVER, attributes={
            "http.request.method": method, "url.path": environ.get("PATH_INFO", "")})
        if not span.is_recording():  # a new trace the sampler left out: nothing below records either
            token = context.attach(trace.set_span_in_context(span, suppressed))
        else:
            token = context.attach(trace.set_span_in_context(span))
        status: list[str] = []

        def keep_status(code: str, headers: Any, *args: Any) -> Any:
            status.append(code)
            return start_response(code, headers, *args)

        try:
            if not span.is_recording():
                return inner(environ, keep_status)
            with _counting_sql(span):
                return inner(environ, keep_status)
        except BaseException as error:
            span.record_exception(error)
            span.set_status(trace.StatusCode.ERROR, type(error).__name__)
            raise
        finally:
            if status and span.is_recording():
                code = int(status[0].split(" ", 1)[0])
                span.set_attribute("http.response.status_code", code)
                if code >= 500:
                    span.set_status(trace.StatusCode.ERROR)
            context.detach(token)
            span.end()

    app.wsgi_app = traced_app  # type: ignore[method-assign]

    @app.before_request
    def _name_span() -> None:
        if request.url_rule is not None:
            span = trace.get_current_span()
            if span.is_recording():
                span.update_name(f"{request.method} {request.url_rule.rule}")
                span.set_attribute("http.route", request.url_rule.rule)


_EXCLUDED_PATHS = frozenset(EXCLUDED_URLS.split(","))


def _unsampled(traceparent: str | None) -> bool:
    """True when the caller sent a valid traceparent whose sampled flag is off."""
    match = _TRACEPARENT.match(traceparent or "")
    return bool(match) and not int(match.group(3), 16) & 1


def _suppressed_context() -> Any:
    from opentelemetry import context
    from opentelemetry.context import _SUPPRESS_HTTP_INSTRUMENTATION_KEY, _SUPPRESS_INSTRUMENTATION_KEY

    return context.set_value(_SUPPRESS_HTTP_INSTRUMENTATION_KEY, True,
                             context.set_value(_SUPPRESS_INSTRUMENTATION_KEY, True, context.Context()))


def instrumentation_suppressed() -> bool:
    """True inside a request that makes no spans (unsampled, or a health check): calls carry the trace on."""
    if _provider is None:
        return False
    from opentelemetry import context
    from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY

    return bool(context.get_value(_SUPPRESS_INSTRUMENTATION_KEY))


# --- SQL: timed cheaply, a span only for a slow statement ---------------------------------
#
# A span per SQL statement was most of what a sampled request cost (a booking runs dozens
# of statements; each span is made, kept, encoded and exported). A sampled request now
# times each statement with a clock read, adds it up on its own span (``hotelbook.sql.count``
# and ``hotelbook.sql.ms``), and only a statement slower than ``TRACE_SQL_SLOWER_THAN_MS``
# (default 5; 0 records every one) or one that fails becomes a span of its own, with its
# text. Unsampled requests skip even the clock read.
SQL_COUNT_ATTRIBUTE = "hotelbook.sql.count"
SQL_MS_ATTRIBUTE = "hotelbook.sql.ms"
DEFAULT_SQL_SLOWER_THAN_MS = 5.0
# ``[statements, seconds]`` of the sampled request or background job running here; None elsewhere.
_sql_totals: ContextVar[list[float] | None] = ContextVar("hotelbook_sql_totals", default=None)


def sql_slower_than_ms() -> float:
    """``TRACE_SQL_SLOWER_THAN_MS``: statements at least this slow get a span (bad values: the default)."""
    try:
        value = float(os.environ.get("TRACE_SQL_SLOWER_THAN_MS", DEFAULT_SQL_SLOWER_THAN_MS))
    except ValueError:
        return DEFAULT_SQL_SLOWER_THAN_MS
    return value if value >= 0 else DEFAULT_SQL_SLOWER_THAN_MS


@contextlib.contextmanager
def _counting_sql(span: Any) -> Iterator[None]:
    """Count the SQL run inside a recording ``span`` and write the totals on it at the end."""
    totals = [0.0, 0.0]
    token = _sql_totals.set(totals)
    try:
        yield
    finally:
        _sql_totals.reset(token)
        if totals[0] and span.is_recording():
            span.set_attribute(SQL_COUNT_ATTRIBUTE, int(totals[0]))
            span.set_attribute(SQL_MS_ATTRIBUTE, round(totals[1] * 1000, 3))


def instrument_database(app: Flask, db: Any) -> None:
    """Time the SQL statements of the app's engine for sampled requests (see above)."""
    if not tracing_enabled():
        return
    from opentelemetry import trace
    from sqlalchemy import event

    with app.app_context():
        engine = db.engine
    system = engine.dialect.name
    database = engine.url.database or ""
    slower_than = sql_slower_than_ms() / 1000
    tracer = trace.get_tracer("hotelbook.sql")

    def statement_span(statement: str, started_ns: int, elapsed: float, error: BaseException | None) -> None:
        # Made after the fact, with the statement's own start and end, under the current span.
        words = statement.split(None, 1)
        span = tracer.start_span(f"{words[0] if words else 'SQL'} {database}".strip(), kind=trace.SpanKind.CLIENT,
                                 start_time=started_ns, attributes={
                                     "db.system.name": system, "db.namespace": database,
                                     "db.query.text": statement[:2000]})
        if error is not None:
            span.record_exception(error)
            span.set_status(trace.StatusCode.ERROR, type(error).__name__)
        span.end(end_time=started_ns + int(elapsed * 1e9))

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if context is not None and _sql_totals.get() is not None:
            context._hotelbook_started = (time.perf_counter(), time.time_ns())

    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        started = getattr(context, "_hotelbook_started", None)
        totals = _sql_totals.get()
        if started is None or totals is None:
            return
        elapsed = time.perf_counter() - started[0]
        totals[0] += 1
        totals[1] += elapsed
        if elapsed >= slower_than:
            statement_span(statement, started[1], elapsed, None)

    @event.listens_for(engine, "handle_error")
    def _failed(exception_context: Any) -> None:
        context = exception_context.execution_context
        started = getattr(context, "_hotelbook_started", None)
        totals = _sql_totals.get()
        if started is None or totals is None or exception_context.statement is None:
            return
        elapsed = time.perf_counter() - started[0]
        totals[0] += 1
        totals[1] += elapsed
        statement_span(exception_context.statement, started[1], elapsed, exception_context.original_exception)


def mark_request(request_id: str) -> None:
    """Record the request id on the server span, so a trace is found by X-Request-ID."""
    if _provider is None:
        return
    from opentelemetry import trace

    trace.get_current_span().set_attribute(REQUEST_ID_ATTRIBUTE, request_id)


def _parse(traceparent: str | None) -> tuple[str, str] | None:
    match = _TRACEPARENT.match(traceparent or "")
    if not match or match.group(1) == "0" * 32 or match.group(2) == "0" * 16:
        return None
    return match.group(1), match.group(2)


def incoming_traceparent() -> str | None:
    """The traceparent this request (or background job) came with, when valid."""
    if has_request_context():
        value = request.environ.get("HTTP_TRACEPARENT")
        return value if value and _parse(value) else None
    return _background.get()


def current_traceparent() -> str | None:
    """The W3C traceparent of where the code runs now: the current span, or what came in."""
    if _provider is not None:
        from opentelemetry import trace

        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"
    return incoming_traceparent()


def current_ids() -> tuple[str | None, str | None]:
    """``(trace_id, span_id)`` for a log line: the current span's, else the incoming parent's."""
    if _provider is not None:
        from opentelemetry import trace

        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            return f"{context.trace_id:032x}", f"{context.span_id:016x}"
    if has_request_context():
        ids = g.get("_trace_ids")
        if ids is None:
            ids = g._trace_ids = _parse(request.headers.get(TRACEPARENT)) or (None, None)
        return ids
    return _parse(_background.get()) or (None, None)


@contextlib.contextmanager
def continue_trace(traceparent: str | None, name: str, **attributes: Any) -> Iterator[None]:
    """Run background work (an outbox job) as a child of the request that asked for it."""
    token = _background.set(traceparent if _parse(traceparent) else None)
    try:
        if _provider is None:
            yield
            return
        from opentelemetry import trace
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        parent = TraceContextTextMapPropagator().extract({TRACEPARENT: traceparent} if traceparent else {})
        tracer = trace.get_tracer("hotelbook")
        with tracer.start_as_current_span(name, context=parent, kind=trace.SpanKind.CONSUMER,
                                          attributes=attributes or None) as job_span:
            if not job_span.is_recording():
                yield
                return
            with _counting_sql(job_span):
                yield
    finally:
        _background.reset(token)


@contextlib.contextmanager
def span(name: str, *, client: bool = False, **attributes: Any) -> Iterator[None]:
    """A span of our own around some work (an SMTP send); nothing at all when tracing is off."""
    if _provider is None:
        yield
        return
    from opentelemetry import trace

    kind = trace.SpanKind.CLIENT if client else trace.SpanKind.INTERNAL
    with trace.get_tracer("hotelbook").start_as_current_span(name, kind=kind, attributes=attributes or None):
        yield


def run_in_thread_context() -> Any:
    """A function that runs ``fn`` in this thread's trace context, for work handed to another thread."""
    traceparent = current_traceparent()
    if _provider is not None:
        from opentelemetry import context as otel_context

        captured = otel_context.get_current()

        def runner(fn: Any, *args: Any, **kwargs: Any) -> Any:
            token = otel_context.attach(captured)
            try:
                return fn(*args, **kwargs)
            finally:
                otel_context.detach(token)
        return runner

    def plain(fn: Any, *args: Any, **kwargs: Any) -> Any:
        token = _background.set(traceparent)
        try:
            return fn(*args, **kwargs)
        finally:
            _background.reset(token)
    return plain
