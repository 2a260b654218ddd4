"""A local trace store that needs no Docker: an OTLP/HTTP receiver writing JSON lines.

``python -m hotelbook_stack traces`` listens on ``POST /v1/traces`` (protobuf from
the services' OTLP exporters, JSON from the gateway's Lua) and appends one line
per span to ``var/traces/spans.jsonl``. ``python -m hotelbook_stack trace <id>``
(``make trace ID=<X-Request-ID>``) finds the trace a request belongs to and prints
it as a tree: service, operation, milliseconds.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REQUEST_ID_ATTRIBUTE = "hotelbook.request_id"
SPANS_FILE = "spans.jsonl"
MAX_BODY = 16 * 1024 * 1024


# --- decoding OTLP ---------------------------------------------------------------------


def _value(any_value: dict[str, Any]) -> Any:
    for key in ("stringValue", "boolValue", "doubleValue"):
        if key in any_value:
            return any_value[key]
    if "intValue" in any_value:
        return int(any_value["intValue"])
    if "arrayValue" in any_value:
        return [_value(v) for v in any_value["arrayValue"].get("values", [])]
    return None


def _attributes(items: Iterable[dict[str, Any]]) -> dict[str, Any]:
    return {item["key"]: _value(item.get("value", {})) for item in items}


def _hex(value: str | None, base64_ids: bool) -> str:
    if not value:
        return ""
    return base64.b64decode(value).hex() if base64_ids else value.lower()


def spans_from_export(document: dict[str, Any], *, base64_ids: bool) -> Iterator[dict[str, Any]]:
    """Flat span records from an OTLP export request in its JSON form.

    OTLP/JSON writes ids in hex; protobuf turned into JSON by ``MessageToDict``
    writes them in base64 (``base64_ids``).
    """
    for resource_spans in document.get("resourceSpans", []):
        resource = _attributes(resource_spans.get("resource", {}).get("attributes", []))
        service = str(resource.get("service.name", "unknown"))
        for scope_spans in resource_spans.get("scopeSpans", []):
            for span in scope_spans.get("spans", []):
                start, end = int(span.get("startTimeUnixNano", 0)), int(span.get("endTimeUnixNano", 0))
                kind = span.get("kind", 0)
                yield {
                    "trace_id": _hex(span.get("traceId"), base64_ids),
                    "span_id": _hex(span.get("spanId"), base64_ids),
                    "parent_span_id": _hex(span.get("parentSpanId"), base64_ids) or None,
                    "service": service,
                    "name": span.get("name", ""),
                    "kind": kind.removeprefix("SPAN_KIND_").lower() if isinstance(kind, str) else kind,
                    "start_ns": start,
                    "end_ns": end,
                    "duration_ms": round((end - start) / 1e6, 3),
                    "status": span.get("status", {}).get("code", 0),
                    "attributes": _attributes(span.get("attributes", [])),
                }


def decode(body: bytes, content_type: str) -> list[dict[str, Any]]:
    if content_type.startswith("application/json"):
        return list(spans_from_export(json.loads(body), base64_ids=False))
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    message = ExportTraceServiceRequest()
    message.ParseFromString(body)
    return list(spans_from_protobuf(message))


# The span kinds of OTLP's enum (SPAN_KIND_SERVER = 2 ...), named as in the JSON form.
_KINDS = {0: 0, 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}


def _proto_value(any_value: Any) -> Any:
    which = any_value.WhichOneof("value")
    if which == "array_value":
        return [_proto_value(v) for v in any_value.array_value.values]
    if which in ("string_value", "bool_value", "int_value", "double_value"):
        return getattr(any_value, which)
    return None


def spans_from_protobuf(message: Any) -> Iterator[dict[str, Any]]:
    """The records of :func:`spans_from_export`, read from the protobuf message's fields directly.

    Going through ``MessageToDict`` first was most of the store's CPU under load.
    """
    for resource_spans in message.resource_spans:
        service = "unknown"
        for item in resource_spans.resource.attributes:
            if item.key == "service.name":
                service = str(_proto_value(item.value))
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                start, end = span.start_time_unix_nano, span.end_time_unix_nano
                yield {
                    "trace_id": span.trace_id.hex(),
                    "span_id": span.span_id.hex(),
                    "parent_span_id": span.parent_span_id.hex() or None,
                    "service": service,
                    "name": span.name,
                    "kind": _KINDS.get(span.kind, span.kind),
                    "start_ns": start,
                    "end_ns": end,
                    "duration_ms": round((end - start) / 1e6, 3),
                    "status": _STATUS.get(span.status.code, span.status.code),
                    "attributes": {item.key: _proto_value(item.value) for item in span.attributes},
                }


# MessageToDict wrote the status code by its enum name, and left out the default (UNSET): as before.
_STATUS = {0: 0, 1: "STATUS_CODE_OK", 2: "STATUS_CODE_ERROR"}


# --- the store -------------------------------------------------------------------------


class TraceStore:
    """Spans as JSON lines in one folder; appends are serialised by a lock."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = self.folder / SPANS_FILE
        self._lock = threading.Lock()

    def add(self, spans: list[dict[str, Any]]) -> None:
        if not spans:
            return
        text = "".join(json.dumps(span, separators=(",", ":")) + "\n" for span in spans)
        with self._lock, self.path.open("a", encoding="utf-8") as out:
            out.write(text)

    def spans(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        found = []
        with self.path.open(encoding="utf-8") as lines:
            for line in lines:
                try:
                    found.append(json.loads(line))
                except ValueError:  # a line cut by a crash
                    continue
        return found

    def trace_of_request(self, request_id: str) -> str | None:
        """The trace id of the request with this X-Request-ID (the latest, if reused)."""
        for span in reversed(self.spans()):
            if span.get("attributes", {}).get(REQUEST_ID_ATTRIBUTE) == request_id:
                return span["trace_id"]
        return None

    def trace(self, trace_id: str) -> list[dict[str, Any]]:
        return [span for span in self.spans() if span.get("trace_id") == trace_id]


def tree_lines(spans: list[dict[str, Any]]) -> list[str]:
    """One line per span, children indented under their parent, in start order.

    A span whose parent never arrived is shown at the top level, marked ``?``.
    """
    by_id = {span["span_id"]: span for span in spans}
    children: dict[str | None, list[dict[str, Any]]] = {}
    for span in spans:
        parent = span.get("parent_span_id")
        children.setdefault(parent if parent in by_id else None, []).append(span)
    lines: list[str] = []

    def walk(span: dict[str, Any], depth: int) -> None:
        orphan = "? " if depth == 0 and span.get("parent_span_id") else ""
        lines.append(f"{'  ' * depth}{orphan}{span['service']}  {span['name']}  {span['duration_ms']:.1f} ms")
        for child in sorted(children.get(span["span_id"], []), key=lambda s: s["start_ns"]):
            walk(child, depth + 1)

    for root in sorted(children.get(None, []), key=lambda s: s["start_ns"]):
        walk(root, 0)
    return lines


# --- the receiver ----------------------------------------------------------------------


def make_server(host: str, port: int, store: TraceStore) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if self.path.split("?", 1)[0] != "/v1/traces":
                return self._answer(404, b"")
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 < length <= MAX_BODY:
                return self._answer(400, b"")
            content_type = self.headers.get("Content-Type", "application/x-protobuf")
            try:
                spans = decode(self.rfile.read(length), content_type)
            except Exception:  # a malformed export must not stop the store
                return self._answer(400, b"")
            store.add(spans)
            json_answer = content_type.startswith("application/json")
            self._answer(200, b"{}" if json_answer else b"", content_type)

        def _answer(self, status: int, body: bytes, content_type: str = "application/x-protobuf") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return None  # one line per export would drown the terminal

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


def start_receiver(host: str, port: int, folder: Path) -> tuple[ThreadingHTTPServer, TraceStore]:
    """The receiver on a background thread (tests); ``server.shutdown()`` stops it."""
    store = TraceStore(folder)
    server = make_server(host, port, store)
    threading.Thread(target=server.serve_forever, name="trace-store", daemon=True).start()
    return server, store
