"""W3C trace context at the gateway (lua/hotelbook/trace.lua), with a real nginx."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import GENEROUS_LIMITS, Gateway

from hotelbook_chassis.testing import free_port
from hotelbook_chassis.trace_store import TraceStore, start_receiver

TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
INCOMING_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
INCOMING_SPAN = "00f067aa0ba902b7"


def upstream_traceparent(gateway: Gateway, **headers: str) -> tuple[str, str, str, str]:
    """(trace id, span id, flags, request id) as the upstream service saw them."""
    response = gateway.get("/api/search/hotels", headers=headers)
    assert response.status_code == 200
    match = TRACEPARENT.match(response.json()["headers"].get("traceparent", ""))
    assert match, response.json()["headers"]
    return match.group(1), match.group(2), match.group(3), response.headers["X-Request-ID"]


def test_a_trace_starts_at_the_gateway_when_none_came(gateway):
    trace_id, span_id, flags, request_id = upstream_traceparent(gateway)
    assert flags == "01"  # sampled: the default ratio is 1
    assert trace_id != "0" * 32 and span_id != "0" * 16
    assert gateway.log_for(request_id)["trace_id"] == trace_id
    again = upstream_traceparent(gateway)
    assert again[0] != trace_id and again[1] != span_id


def test_a_valid_incoming_traceparent_is_continued_with_its_sampling_flag(gateway):
    for flags in ("01", "00"):
        trace_id, span_id, sent_flags, _ = upstream_traceparent(
            gateway, traceparent=f"00-{INCOMING_TRACE}-{INCOMING_SPAN}-{flags}")
        assert (trace_id, sent_flags) == (INCOMING_TRACE, flags)
        assert span_id != INCOMING_SPAN  # the gateway's own span is the parent upstream


@pytest.mark.parametrize("bad", [
    f"00-{INCOMING_TRACE.upper()}-{INCOMING_SPAN}-01",
    f"00-{'0' * 32}-{INCOMING_SPAN}-01",
    f"00-{INCOMING_TRACE}-{'0' * 16}-01",
    f"00-{INCOMING_TRACE}-{INCOMING_SPAN}-1",
    f"00-{INCOMING_TRACE}-{INCOMING_SPAN}-01-extra",
    "garbage",
])
def test_an_invalid_traceparent_starts_a_new_trace(gateway, bad):
    trace_id, _, _, _ = upstream_traceparent(gateway, traceparent=bad)
    assert trace_id != INCOMING_TRACE


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory, upstreams: dict[str, str]
           ) -> Iterator[tuple[Gateway, TraceStore]]:
    """A gateway exporting to a local trace store, starting no sampled trace itself."""
    folder = tmp_path_factory.mktemp("traces")
    port = free_port()
    server, store = start_receiver("127.0.0.1", port, Path(folder))
    gateway = Gateway(tmp_path_factory.mktemp("traced"), upstreams, "--otlp-endpoint", f"http://127.0.0.1:{port}",
                      "--trace-ratio", "0", limits=GENEROUS_LIMITS).start()
    yield gateway, store
    gateway.stop()
    server.shutdown()


def wait_for_span(store: TraceStore, trace_id: str, timeout: float = 10) -> list[dict]:
    deadline = time.monotonic() + timeout
    while not store.trace(trace_id) and time.monotonic() < deadline:
        time.sleep(0.1)
    return store.trace(trace_id)


def test_the_gateway_span_is_exported_as_the_parent_of_the_upstream_request(traced):
    gateway, store = traced
    trace_id, span_id, _, request_id = upstream_traceparent(
        gateway, traceparent=f"00-{INCOMING_TRACE}-{INCOMING_SPAN}-01")
    assert trace_id == INCOMING_TRACE
    spans = wait_for_span(store, INCOMING_TRACE)
    assert len(spans) == 1
    span = spans[0]
    assert (span["service"], span["span_id"], span["parent_span_id"]) == ("gateway", span_id, INCOMING_SPAN)
    assert span["name"] == "GET /api/search/hotels"
    assert span["attributes"]["hotelbook.request_id"] == request_id
    assert span["attributes"]["http.response.status_code"] == 200
    assert span["end_ns"] >= span["start_ns"] > 0


def test_unsampled_traces_are_not_exported(traced):
    gateway, store = traced
    trace_id, _, flags, _ = upstream_traceparent(gateway)
    assert flags == "00"  # ratio 0: new traces are not sampled
    unsampled, _, _, _ = upstream_traceparent(gateway, traceparent=f"00-{'ab' * 16}-{INCOMING_SPAN}-00")
    # A sampled request after them shows the exporter has run since.
    upstream_traceparent(gateway, traceparent=f"00-{'cd' * 16}-{INCOMING_SPAN}-01")
    assert wait_for_span(store, "cd" * 16)
    assert store.trace(trace_id) == [] and store.trace(unsampled) == []


def test_a_share_of_new_traces_is_sampled(tmp_path, upstreams):
    """--trace-ratio between 0 and 1: nginx's split_clients on the random request id."""
    gateway = Gateway(tmp_path / "half", upstreams, "--trace-ratio", "0.5", limits=GENEROUS_LIMITS).start()
    try:
        flags = [upstream_traceparent(gateway)[2] for _ in range(60)]
        # an incoming trace keeps its own flag whatever the ratio
        assert upstream_traceparent(gateway, traceparent=f"00-{INCOMING_TRACE}-{INCOMING_SPAN}-01")[2] == "01"
    finally:
        gateway.stop()
    assert set(flags) == {"00", "01"}
    assert 10 <= flags.count("01") <= 50  # 60 draws at 1/2: outside this range about once in 10^6
