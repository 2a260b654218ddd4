import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from hotelbook_search import create_app


class FakeReservations:
    """A real HTTP server (keep-alive, like gunicorn) in reservations' place: a test sets how it answers.

    ``answer(body) -> (status, json_body)``; ``None`` drops the connection unanswered
    (a crashed peer). The default answer is a 503.
    """

    def __init__(self) -> None:
        self.answer = None
        self.calls: list[dict] = []
        self.headers: list[dict] = []
        self.peers: list[tuple] = []
        self.delay = 0.0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.calls.append(body)
                fake.headers.append(dict(self.headers))
                fake.peers.append(self.client_address)
                if fake.delay:
                    threading.Event().wait(fake.delay)
                outcome = fake.answer(body) if fake.answer else (503, {"title": "unavailable"})
                if outcome is None:
                    self.close_connection = True
                    return
                status, answer = outcome
                data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda request, address: None  # a client that gave up waiting
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def reset(self) -> None:
        self.answer, self.delay = None, 0.0
        for seen in (self.calls, self.headers, self.peers):
            seen.clear()


@pytest.fixture(scope="session")
def fake_reservations():
    fake = FakeReservations()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


@pytest.fixture
def reservations(fake_reservations):
    fake_reservations.reset()
    yield fake_reservations
    fake_reservations.reset()


@pytest.fixture(scope="session")
def service_name():
    return "search"


@pytest.fixture(scope="session")
def app(service_config, fake_reservations):
    # No client credentials: availability calls go out without a token (faked peers do not care).
    return create_app({**service_config, "RESERVATIONS_URL": fake_reservations.url})


@pytest.fixture
def admin(token_factory):
    from hotelbook_chassis.testing import bearer

    return bearer(token_factory("search:write"))


@pytest.fixture
def make_hotel(client, admin):
    def make(name="Hotel Limmat", city="Zürich", stars=4, rooms=(("Double", 2, 12000, 5),), **extra):
        body = {"name": name, "city": city, "country": "CH", "stars": stars, "address": "Limmatquai 1",
                "room_types": [{"name": n, "capacity": c, "nightly_price": {"amount": p, "currency": "EUR"},
                                "rooms": r} for n, c, p, r in rooms], **extra}
        return client.post_json("/hotels", body, headers=admin, status=201).json

    return make
