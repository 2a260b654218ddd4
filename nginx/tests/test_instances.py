"""Several instances of one service behind the gateway: failover without sending a POST twice."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer

import pytest
import requests
from conftest import EchoHandler, Gateway, render

from hotelbook_chassis.testing import free_port


class CountingEcho(EchoHandler):
    hits: list[str]

    def _answer(self) -> None:
        self.hits.append(f"{self.command} {self.path}")
        super()._answer()

    do_GET = do_POST = _answer


def counting_server() -> tuple[ThreadingHTTPServer, list[str]]:
    hits: list[str] = []
    handler = type("Counting", (CountingEcho,), {"service": "payments", "hits": hits})
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, hits


def dropping_server() -> tuple[socket.socket, list[bytes]]:
    """Reads a request, then closes the connection unanswered: an instance dying mid-request."""
    listener = socket.create_server(("127.0.0.1", 0))
    seen: list[bytes] = []

    def serve() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            with connection:
                seen.append(connection.recv(65536))

    threading.Thread(target=serve, daemon=True).start()
    return listener, seen


@pytest.fixture
def live() -> Iterator[tuple[str, list[str]]]:
    server, hits = counting_server()
    yield f"127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()


def test_several_servers_with_passive_health_checks_are_rendered(tmp_path, upstreams):
    result = render(tmp_path / "gw", 18080, upstreams, "--upstream", "search=127.0.0.1:18201", check=True)
    assert result.returncode == 0, result.stderr
    conf = (tmp_path / "gw" / "nginx.conf").read_text()
    block = conf.split("upstream search {")[1].split("}")[0]
    assert f"server {upstreams['search']} max_fails=1 fail_timeout=5s;" in block
    assert "server 127.0.0.1:18201 max_fails=1 fail_timeout=5s;" in block
    # One instance: nothing to fail over to, no passive check.
    assert f"server {upstreams['users']} max_fails=0;" in conf
    assert "proxy_next_upstream error timeout;" in conf
    assert "non_idempotent" not in conf


def test_a_refused_request_goes_to_another_instance_even_a_post(tmp_path, upstreams, live):
    address, hits = live
    dead = f"127.0.0.1:{free_port()}"
    gw = Gateway(tmp_path / "gw", {**upstreams, "payments": dead}, "--upstream", f"payments={address}",
                 "--workers", "1").start()
    try:
        for n in range(6):
            assert gw.get(f"/api/payments/payments/p{n}").status_code == 200
            # Refused at connect: never sent, so safe to send to the other instance.
            assert gw.request("POST", "/api/payments/payments", json={"n": n}).status_code == 200
        assert sum(hit.startswith("POST") for hit in hits) == 6
    finally:
        gw.stop()


def test_a_post_cut_mid_request_is_not_sent_again(tmp_path, upstreams, live):
    address, hits = live
    listener, seen = dropping_server()
    dropping = f"127.0.0.1:{listener.getsockname()[1]}"
    gw = Gateway(tmp_path / "gw", {**upstreams, "payments": dropping}, "--upstream", f"payments={address}",
                 "--workers", "1").start()
    try:
        statuses = []
        for n in range(4):  # round robin: at least one lands on the dropping instance
            statuses.append(gw.request("POST", "/api/payments/payments", json={"n": n},
                                       headers={"X-Request-ID": f"cut-{n}"}).status_code)
        assert seen, "no request reached the dropping instance"
        # The one cut after it was sent is not sent again: a clear 503 the guest may retry.
        assert statuses.count(503) == len(seen) == 1, statuses
        assert sum(hit.startswith("POST") for hit in hits) == statuses.count(200) == 3
        # An idempotent request cut the same way is answered by the other instance.
        listener2, seen2 = dropping_server()
        gw.stop()
        gw = Gateway(tmp_path / "gw2", {**upstreams, "payments": f"127.0.0.1:{listener2.getsockname()[1]}"},
                     "--upstream", f"payments={address}", "--workers", "1").start()
        answers = [gw.get(f"/api/payments/payments/g{n}").status_code for n in range(4)]
        assert seen2 and answers == [200] * 4
        listener2.close()
    finally:
        gw.stop()
        listener.close()


def test_a_service_address_balances_over_the_instances(tmp_path, upstreams, live):
    """--internal: the one address peers call, spread over the instances, failing over like the public side."""
    address, hits = live
    second, second_hits = counting_server()
    dead = f"127.0.0.1:{free_port()}"
    listen = free_port()
    gw = Gateway(tmp_path / "gw", upstreams, "--workers", "1", "--internal",
                 f"pdf-reporting@{listen}={address},127.0.0.1:{second.server_address[1]},{dead}").start()
    try:
        conf = (tmp_path / "gw" / "nginx.conf").read_text()
        assert f"listen 127.0.0.1:{listen};" in conf
        assert "upstream internal_pdf_reporting {" in conf
        for n in range(6):
            # Internal paths pass as they are: no public prefix, no allow-list.
            answer = requests.post(f"http://127.0.0.1:{listen}/render/receipt", json={"n": n}, timeout=5)
            assert answer.status_code == 200
        # Refused by the dead instance: sent to another one, never lost, never twice.
        assert len(hits) + len(second_hits) == 6 and hits and second_hits
    finally:
        gw.stop()
        second.shutdown()


def test_bad_service_addresses_are_refused(tmp_path, upstreams):
    for bad in ("pdf-reporting=127.0.0.1:1", "pdf-reporting@1=nowhere", "Bad Name@1=127.0.0.1:2"):
        result = render(tmp_path / "gw", 18080, upstreams, "--internal", bad)
        assert result.returncode != 0 and "--internal" in result.stderr
