"""Trace context: passed on when tracing is off, spans exported over OTLP when it is on."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import responses

from hotelbook_chassis import tracing
from hotelbook_chassis.client import ServiceClient
from hotelbook_chassis.testing import free_port
from hotelbook_chassis.trace_store import TraceStore, start_receiver, tree_lines

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE}-{PARENT}-01"


def test_tracing_is_off_without_an_endpoint():
    assert not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    assert not tracing.tracing_enabled()


def test_off_log_lines_carry_the_incoming_trace(client, capfd):
    from hotelbook_chassis.observability import configure_logging

    configure_logging("notes", "INFO", json_lines=True)
    try:
        client.get("/teapot", headers={"traceparent": TRACEPARENT, "X-Request-ID": "trace-off-1"}, status=418)
        client.get("/teapot", headers={"traceparent": "00-" + "0" * 32 + "-" + PARENT + "-01",
                                       "X-Request-ID": "trace-off-2"}, status=418)
        lines = [json.loads(line) for line in capfd.readouterr().err.splitlines() if line.startswith("{")]
    finally:
        configure_logging("notes", "INFO", json_lines=False)
        logging.getLogger().setLevel(logging.INFO)
    first = [line for line in lines if line.get("request_id") == "trace-off-1"]
    assert first and all(line["trace_id"] == TRACE and line["span_id"] == PARENT for line in first)
    # An all-zero trace id is invalid: no trace id rather than a wrong one.
    second = [line for line in lines if line.get("request_id") == "trace-off-2"]
    assert second and all(line["trace_id"] is None for line in second)


@responses.activate
def test_off_service_client_passes_the_traceparent_on(app):
    responses.get("http://peer.test/things", json={})
    peer = ServiceClient("peer", "http://peer.test")
    with app.test_request_context("/", headers={"traceparent": TRACEPARENT}):
        peer.get("/things")
    with app.test_request_context("/", headers={"traceparent": "garbage"}):
        peer.get("/things")
    assert responses.calls[0].request.headers["traceparent"] == TRACEPARENT
    assert "traceparent" not in responses.calls[1].request.headers


def test_off_background_job_logs_the_trace_of_its_request(app):
    with tracing.continue_trace(TRACEPARENT, "outbox confirm"):
        assert tracing.current_ids() == (TRACE, PARENT)
        assert tracing.current_traceparent() == TRACEPARENT
    assert tracing.current_ids() == (None, None)


# With an endpoint the SDK is loaded process-wide, so that part runs in its own process.
TRACED_APP = textwrap.dedent("""
    import sys
    sys.path.insert(0, sys.argv[1])
    from conftest import blp, db
    from hotelbook_chassis import create_service_app, tracing
    from hotelbook_chassis.mail import SmtpSettings, build_message, send_mail
    from opentelemetry import trace

    import time
    from sqlalchemy import event, text

    app = create_service_app("notes", service="notes", title="Notes", db=db, blueprints=[blp],
                             config={"SQLALCHEMY_DATABASE_URI": "sqlite://", "TESTING": True})
    with app.app_context():
        # A SQL function that takes 20 ms: slower than the 5 ms from which a statement gets a span.
        event.listen(db.engine, "connect", lambda connection, record: connection.create_function(
            "pause", 1, lambda ms: time.sleep(ms / 1000) or ms))
        db.create_all()

    @app.get("/statements")
    def statements():
        db.session.execute(text("SELECT count(*) FROM note")).scalar()
        db.session.execute(text("SELECT pause(20)")).scalar()
        try:
            db.session.execute(text("SELECT * FROM no_such_table"))
        except Exception:
            db.session.rollback()
        return {}

    client = app.test_client()
    answer = client.get("/teapot", headers={"traceparent": sys.argv[2], "X-Request-ID": "traced-1"})
    assert answer.status_code == 418
    answer = client.get("/statements", headers={"traceparent": sys.argv[2], "X-Request-ID": "traced-2"})
    assert answer.status_code == 200
    with tracing.continue_trace(sys.argv[2], "outbox receipt-mail"):
        settings = SmtpSettings(port=1, timeout=0.5)
        try:
            send_mail(settings, build_message(settings, "a@example.test", "hi", "hello"))
        except OSError:
            pass
    trace.get_tracer_provider().force_flush()
""")


def test_on_spans_reach_the_store_with_their_parents(tmp_path: Path):
    port = free_port()
    server, store = start_receiver("127.0.0.1", port, tmp_path / "traces")
    try:
        env = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}", "VAR_DIR": str(tmp_path)}
        result = subprocess.run([sys.executable, "-c", TRACED_APP, str(Path(__file__).parent), TRACEPARENT],
                                env=env, capture_output=True, text=True, timeout=600, check=False)
        assert result.returncode == 0, result.stderr[-3000:]
    finally:
        server.shutdown()
    spans = TraceStore(tmp_path / "traces").trace(TRACE)
    tree = "\n".join(tree_lines(spans))
    server_span = [span for span in spans if span["name"] == "GET /teapot"]
    assert len(server_span) == 1, tree
    assert server_span[0]["parent_span_id"] == PARENT
    assert server_span[0]["service"] == "notes" and server_span[0]["kind"] == "server"
    assert store.trace_of_request("traced-1") == TRACE
    outbox = [span for span in spans if span["name"] == "outbox receipt-mail"]
    assert len(outbox) == 1 and outbox[0]["parent_span_id"] == PARENT, tree
    smtp = [span for span in spans if span["name"] == "smtp send"]
    assert len(smtp) == 1 and smtp[0]["parent_span_id"] == outbox[0]["span_id"], tree
    assert smtp[0]["status"] not in (0, "STATUS_CODE_UNSET"), "a failed send is marked as an error"
    # SQL: every statement counted and timed on the request's span; only the slow one and the
    # failed one have spans of their own, with their text, under it.
    statements = [span for span in spans if span["name"] == "GET /statements"]
    assert len(statements) == 1, tree
    assert statements[0]["attributes"]["hotelbook.sql.count"] == 3
    assert statements[0]["attributes"]["hotelbook.sql.ms"] >= 20
    sql = sorted((span for span in spans if span["parent_span_id"] == statements[0]["span_id"]),
                 key=lambda span: span["start_ns"])
    assert [span["attributes"]["db.query.text"] for span in sql] == [
        "SELECT pause(20)", "SELECT * FROM no_such_table"], tree
    assert all(span["kind"] == "client" and span["attributes"]["db.system.name"] == "sqlite" for span in sql)
    assert sql[0]["duration_ms"] >= 20 and sql[0]["status"] in (0, "STATUS_CODE_UNSET")
    assert sql[1]["status"] not in (0, "STATUS_CODE_UNSET"), "a failed statement is marked as an error"
    assert not [span for span in spans if span["parent_span_id"] == server_span[0]["span_id"]], tree


def test_sql_span_threshold_setting(monkeypatch):
    monkeypatch.delenv("TRACE_SQL_SLOWER_THAN_MS", raising=False)
    assert tracing.sql_slower_than_ms() == tracing.DEFAULT_SQL_SLOWER_THAN_MS
    monkeypatch.setenv("TRACE_SQL_SLOWER_THAN_MS", "0")
    assert tracing.sql_slower_than_ms() == 0
    for bad in ("-1", "soon"):
        monkeypatch.setenv("TRACE_SQL_SLOWER_THAN_MS", bad)
        assert tracing.sql_slower_than_ms() == tracing.DEFAULT_SQL_SLOWER_THAN_MS


def test_tree_lines_nest_children_and_mark_orphans():
    def span(span_id, parent, service, name, start, ms):
        return {"span_id": span_id, "parent_span_id": parent, "service": service, "name": name,
                "start_ns": start, "duration_ms": ms, "trace_id": TRACE}

    lines = tree_lines([
        span("b", "a", "search", "GET /hotels", 2, 5.0),
        span("a", None, "gateway", "GET /api/search/hotels", 1, 7.25),
        span("c", "zz", "users", "GET /users/<id>", 3, 1.0),
    ])
    assert lines == ["gateway  GET /api/search/hotels  7.2 ms", "  search  GET /hotels  5.0 ms",
                     "? users  GET /users/<id>  1.0 ms"]


def test_store_reads_protobuf_as_its_json_form_says():
    """The store reads the exporters' protobuf field by field: the same records as through its JSON form."""
    from google.protobuf.json_format import MessageToDict
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import SpanKind, StatusCode

    from hotelbook_chassis.trace_store import decode, spans_from_export

    finished = []
    provider = TracerProvider(resource=Resource.create({"service.name": "notes"}))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("GET /notes", kind=SpanKind.SERVER,
                                      attributes={"n": 3, "ms": 1.5, "ok": True, "tags": ["a", "b"]}) as outer:
        with tracer.start_as_current_span("SELECT notes", kind=SpanKind.CLIENT) as inner:
            inner.set_status(StatusCode.ERROR, "no table")
        finished += [inner, outer]
    with tracer.start_as_current_span("plain") as plain:
        finished.append(plain)
    body = encode_spans(finished).SerializeToString()
    message = ExportTraceServiceRequest()
    message.ParseFromString(body)
    records = decode(body, "application/x-protobuf")
    assert records == list(spans_from_export(MessageToDict(message), base64_ids=True))
    assert records[1]["attributes"] == {"n": 3, "ms": 1.5, "ok": True, "tags": ["a", "b"]}
