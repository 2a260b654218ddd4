"""One booking, one trace: every process it crosses leaves spans in the local trace store."""

from __future__ import annotations

import time
from typing import Any

import requests
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import set_span_in_context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from hotelbook_chassis.trace_store import tree_lines
from tests.journey import Guest, stay

# The processes a booking crosses, the caller (this test) included.
EXPECTED = {"api-caller", "gateway", "auth", "users", "search", "reservations", "payments", "bank",
            "pdf-reporting"}


def wait_for_spans(stack, trace_id: str, done, timeout: float = 30) -> list[dict[str, Any]]:
    """The trace's spans once ``done(spans)`` holds (exporters send in batches), or as they are."""
    deadline = time.monotonic() + timeout
    while True:
        spans = stack.traces.trace(trace_id)
        if done(spans) or time.monotonic() > deadline:
            return spans
        time.sleep(0.3)


def test_one_booking_is_one_trace_across_every_process(stack):
    hotel = stack.create_hotel(city="Bern", rooms=1, nightly_price=11000, name="Hotel Zytglogge")
    provider = TracerProvider(resource=Resource.create({"service.name": "api-caller"}))
    provider.add_span_processor(SimpleSpanProcessor(
        OTLPSpanExporter(endpoint=f"{stack.url('traces')}/v1/traces")))
    tracer = provider.get_tracer("tests")
    http = requests.Session()
    request_ids: list[str] = []
    http.hooks["response"].append(lambda response, *args, **kwargs: request_ids.append(
        response.headers.get("X-Request-ID", "")))

    with tracer.start_as_current_span("book a room") as root:
        # Every call of the journey carries the caller's span as its parent.
        carrier: dict[str, str] = {}
        TraceContextTextMapPropagator().inject(carrier, context=set_span_in_context(root))
        http.headers.update(carrier)
        guest = Guest(stack.gateway_url, stack.layout.client_credentials("booking-ui"), http=http)
        guest.sign_up(stack.token("booking-ui", "users:create"))
        guest.log_in()
        checkin, checkout = stay(50, 2)
        assert guest.search("bern", checkin, checkout).status_code == 200
        held = guest.hold(hotel["id"], hotel["room_types"][0]["id"], checkin, checkout)
        assert held.status_code == 201, held.text
        paid = guest.pay(held.json()["id"])
        assert paid.status_code == 201, paid.text
        stack.mail.wait_for(guest.email, subject_contains="receipt")
        receipt = guest.receipt(held.json()["id"])
        assert receipt.status_code == 200
    provider.shutdown()
    trace_id = f"{root.get_span_context().trace_id:032x}"

    def complete(spans: list[dict[str, Any]]) -> bool:
        # Batches leave each process in their own time: wait for every parent too.
        ids = {span["span_id"] for span in spans}
        return ({span["service"] for span in spans} >= EXPECTED and "smtp send" in {s["name"] for s in spans}
                and all(span["parent_span_id"] in ids for span in spans if span["parent_span_id"]))

    spans = wait_for_spans(stack, trace_id, complete)
    tree = "\n".join(tree_lines(spans))
    assert {span["service"] for span in spans} >= EXPECTED, tree

    # Every request of the journey is found by its X-Request-ID, in this one trace.
    assert request_ids and all(request_ids)
    for request_id in request_ids:
        assert stack.traces.trace_of_request(request_id) == trace_id, (request_id, tree)

    # Parent links: one root (the caller's), every other span's parent is in the trace.
    by_id = {span["span_id"]: span for span in spans}
    roots = [span for span in spans if not span["parent_span_id"]]
    assert [span["service"] for span in roots] == ["api-caller"], tree
    assert all(span["parent_span_id"] in by_id for span in spans if span["parent_span_id"]), tree
    # The gateway is the child of the caller; a service's request comes from the gateway
    # or from a peer's outbound call, never from a span of its own process.
    for span in spans:
        parent = by_id.get(span["parent_span_id"] or "")
        if span["service"] == "gateway":
            assert parent is not None and parent["service"] == "api-caller", tree
        elif span["kind"] == "server" and span["service"] != "api-caller":
            assert parent is not None and parent["service"] != span["service"], (span, tree)
            assert parent["service"] == "gateway" or parent["kind"] == "client", (span, tree)

    # The receipt mail went out from the outbox, in the trace of the payment that queued it.
    outbox = [span for span in spans if span["name"] == "outbox receipt-mail"]
    assert outbox and outbox[0]["service"] == "payments", tree
    smtp = [span for span in spans if span["name"] == "smtp send" and span["service"] == "payments"]
    assert smtp, tree
    ancestor = by_id.get(smtp[0]["parent_span_id"])
    while ancestor is not None and ancestor["span_id"] != outbox[0]["span_id"]:
        ancestor = by_id.get(ancestor["parent_span_id"] or "")
    assert ancestor is not None, tree
    # ...and the outbox job hangs under the payment request's span.
    payment_request = by_id[outbox[0]["parent_span_id"]]
    assert payment_request["service"] == "payments", tree
    # The receipt was rendered by pdf-reporting for the download.
    assert any(span["service"] == "pdf-reporting" and span["name"].startswith("POST") for span in spans), tree


def test_make_trace_prints_the_tree_of_a_request(stack):
    response = requests.get(f"{stack.gateway_url}/api/search/hotels", params={"city": "bern"}, timeout=15)
    request_id = response.headers["X-Request-ID"]
    trace_id = None
    deadline = time.monotonic() + 30
    while trace_id is None and time.monotonic() < deadline:
        trace_id = stack.traces.trace_of_request(request_id)
        time.sleep(0.2)
    assert trace_id, request_id
    spans = wait_for_spans(stack, trace_id, lambda found: {"gateway", "search"} <= {s["service"] for s in found})
    lines = tree_lines(spans)
    # The gateway started the trace: its span is the root, search's request its child.
    assert lines[0].startswith("gateway  GET /api/search/hotels  "), lines
    assert any(line.startswith("  search  GET /hotels  ") for line in lines), lines
    assert all(line.rstrip().endswith(" ms") for line in lines), lines
