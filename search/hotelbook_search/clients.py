"""search's one outbound call: room availability from reservations."""

from __future__ import annotations

import io
import json
import logging
import re
import socket
import threading
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app

from hotelbook_chassis import topology
from hotelbook_chassis.client import OUTBOUND, ClientCredentials, PeerUnavailable, ServiceClient, service_credentials
from hotelbook_chassis.config import peer_url
from hotelbook_chassis.observability import REQUEST_ID_HEADER, current_request_id
from hotelbook_chassis.tracing import TRACEPARENT, incoming_traceparent, tracing_enabled

log = logging.getLogger(__name__)


class PeerDown(Exception):
    """No answer: the connection failed or the read timed out (``timeout``)."""

    def __init__(self, timeout: bool = False) -> None:
        super().__init__("timed out" if timeout else "unreachable")
        self.timeout = timeout


class BadAnswer(Exception):
    """The peer's bytes are not an HTTP/1.x answer this client can read."""


# Longest status or header line read (http.client's limit too).
MAX_LINE = 65536
# Bytes asked of the socket per read: an availability answer (a few kB) comes in one.
READ_BUFFER = 65536
_HEAD_END = re.compile(rb"\r?\n\r?\n")
# The three header fields this client reads.
_FIELDS = re.compile(rb"^[ \t]*(content-length|transfer-encoding|connection)[ \t]*:([^\r\n]*)", re.I | re.M)


def read_answer(reader: io.BufferedIOBase) -> tuple[int, bytes, bool]:
    """One HTTP/1.x answer from ``reader``: its status, body, and whether the connection ends with it.

    The body is delimited by Content-Length, chunked encoding or the end of the
    connection. (http.client parses the header block with the e-mail package, a
    tenth of a search's CPU; a peer's JSON answer needs three of its headers.) When
    the whole header block came in with the first read, as it does from a peer on
    the same network, it is read from that buffer with one search for those three
    fields; otherwise line by line.
    """
    arrived = reader.peek(1)  # what the first read brought, without consuming it
    if not arrived:
        raise ConnectionResetError("connection closed before an answer")
    end = _HEAD_END.search(arrived)
    if end is None or end.start() > MAX_LINE:
        return _read_answer_lines(reader)
    head = arrived[: end.start()]
    reader.read(end.end())  # consumed from the buffer: no read from the socket
    line, _, fields = head.partition(b"\n")
    status, close = _status(line)
    length: int | None = None
    chunked = False
    for name, value in _FIELDS.findall(fields):
        length, chunked, close = _field(name.lower(), value, length, chunked, close)
    return _body(reader, status, length, chunked, close)


def _read_answer_lines(reader: io.BufferedIOBase) -> tuple[int, bytes, bool]:
    """read_answer for a header block that did not come in one read."""
    status, close = _status(reader.readline(MAX_LINE + 1))
    length: int | None = None
    chunked = False
    while True:
        line = reader.readline(MAX_LINE + 1)
        if line in (b"\r\n", b"\n"):
            break
        if not line or len(line) > MAX_LINE:
            raise BadAnswer("header block cut short or too long")
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name in (b"content-length", b"transfer-encoding", b"connection"):
            length, chunked, close = _field(name, value, length, chunked, close)
    return _body(reader, status, length, chunked, close)


def _status(line: bytes) -> tuple[int, bool]:
    """The status of an HTTP/1.x status line, and whether the connection ends by default (HTTP/1.0)."""
    if not line:
        raise ConnectionResetError("connection closed before an answer")
    version, _, rest = line.partition(b" ")
    code = rest[:3]
    if not version.startswith(b"HTTP/1.") or not code.isdigit() or len(line) > MAX_LINE:
        raise BadAnswer(f"not an HTTP/1.x status line: {line[:80]!r}")
    return int(code), version == b"HTTP/1.0"


def _field(name: bytes, value: bytes, length: int | None, chunked: bool, close: bool
           ) -> tuple[int | None, bool, bool]:
    """Content-Length, Transfer-Encoding or Connection (``name``, lower case) applied to what is known."""
    value = value.strip()
    if name == b"content-length":
        if not value.isdigit():
            raise BadAnswer("bad Content-Length")
        return int(value), chunked, close
    if name == b"transfer-encoding":
        return length, b"chunked" in value.lower(), close
    value = value.lower()
    return length, chunked, value == b"close" or (close and value != b"keep-alive")


def _body(reader: io.BufferedIOBase, status: int, length: int | None, chunked: bool, close: bool
          ) -> tuple[int, bytes, bool]:
    if status < 200 or status in (204, 304):
        return status, b"", close
    if chunked:
        return status, _read_chunked(reader), close
    if length is None:
        return status, reader.read(), True
    body = reader.read(length)
    if len(body) < length:
        raise BadAnswer("body cut short")
    return status, body, close


def _read_chunked(reader: io.BufferedIOBase) -> bytes:
    parts = []
    while True:
        size_line = reader.readline(MAX_LINE + 1)
        try:
            size = int(size_line.split(b";", 1)[0], 16)
        except ValueError:
            raise BadAnswer("bad chunk size") from None
        if size == 0:
            while reader.readline(MAX_LINE + 1) not in (b"\r\n", b"\n", b""):  # trailers
                pass
            return b"".join(parts)
        chunk = reader.read(size + 2)
        if len(chunk) < size + 2:
            raise BadAnswer("chunk cut short")
        parts.append(chunk[:size])


class KeptAliveJSON:
    """JSON POSTs to one plain-HTTP peer on a kept-alive connection per thread, each request in one write.

    The availability call is on every search with dates; through requests it cost
    about 0.6 ms of CPU, of which the HTTP exchange itself is a quarter: requests
    prepares, merges settings and wraps the answer in several layers, and
    http.client writes the headers and the body in two sends, which on loopback
    also costs the peer a second wake-up, and parses headers with the e-mail
    package. Here the request is one byte string written at once and the answer
    is read by :func:`read_answer`. A connection the peer closed while idle (its
    keep-alive ran out) is opened again once.
    """

    def __init__(self, base_url: str, *, connect_timeout: float, read_timeout: float) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"not a plain HTTP URL: {base_url}")
        self.host = parts.hostname
        self.port = parts.port or 80
        self.prefix = parts.path.rstrip("/")
        self.host_header = parts.netloc
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._local = threading.local()
        self._heads: dict[str, bytes] = {}  # the fixed start of a request, per path

    def _connect(self) -> tuple[socket.socket, io.BufferedReader]:
        sock = None
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.settimeout(self.read_timeout)
            return sock, sock.makefile("rb", buffering=READ_BUFFER)
        except TimeoutError as error:
            raise PeerDown(timeout=True) from error
        except OSError as error:
            if sock is not None:
                sock.close()
            raise PeerDown() from error

    def _drop(self) -> None:
        connection = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            connection[1].close()
            connection[0].close()

    def _head(self, path: str) -> bytes:
        head = self._heads.get(path)
        if head is None:
            head = self._heads.setdefault(path, (
                f"POST {self.prefix}{path} HTTP/1.1\r\nHost: {self.host_header}\r\n"
                "Content-Type: application/json\r\nAccept: application/json\r\n").encode("latin-1"))
        return head

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        """Send one POST; the status and body of the answer, or :class:`PeerDown`."""
        fields = "".join(f"{name}: {value}\r\n" for name, value in headers.items()).encode("latin-1")
        message = b"%sContent-Length: %d\r\n%s\r\n%s" % (self._head(path), len(body), fields, body)
        for attempt in (1, 2):
            connection = getattr(self._local, "connection", None)
            reused = connection is not None
            if connection is None:
                connection = self._local.connection = self._connect()
            sock, reader = connection
            try:
                sock.sendall(message)
                status, data, close = read_answer(reader)
            except TimeoutError as error:
                self._drop()
                raise PeerDown(timeout=True) from error
            except (OSError, ValueError, BadAnswer) as error:
                self._drop()
                # A kept-alive connection the peer closed meanwhile: once more on a new one.
                # (Safe to send again: this call only reads.)
                if reused and attempt == 1:
                    continue
                raise PeerDown() from error
            if close:
                self._drop()
            return status, data
        raise PeerDown()  # not reached


class AvailabilityClient:
    """``POST /availability`` to reservations, with the chassis' service token, request id and trace context.

    Over :class:`KeptAliveJSON`; with tracing on (the requests instrumentation
    makes the client span) or to an HTTPS peer, through the chassis'
    :class:`ServiceClient`.
    """

    def __init__(self, base_url: str, tokens: ClientCredentials | None, *, read_timeout: float,
                 connect_timeout: float = 2.0) -> None:
        self.tokens = tokens
        self.service = ServiceClient("reservations", base_url, tokens=tokens, connect_timeout=connect_timeout,
                                     read_timeout=read_timeout, retries=0)
        try:
            self.fast: KeptAliveJSON | None = KeptAliveJSON(base_url, connect_timeout=connect_timeout,
                                                            read_timeout=read_timeout)
        except ValueError:
            self.fast = None
        self._outcomes: dict[str, Any] = {}

    def post(self, path: str, data: bytes) -> tuple[int, bytes]:
        """POST the JSON ``data``: the status and body of the answer; :class:`PeerUnavailable` when there was
        none."""
        if self.fast is None or tracing_enabled():
            response = self.service.post(path, json=json.loads(data))
            return response.status_code, response.content
        headers: dict[str, str] = {}
        request_id = current_request_id()
        if request_id:
            headers[REQUEST_ID_HEADER] = request_id
        traceparent = incoming_traceparent()
        if traceparent:
            headers[TRACEPARENT] = traceparent
        for attempt in (1, 2):
            if self.tokens:
                headers["Authorization"] = f"Bearer {self.tokens.token()}"
            try:
                status, answer = self.fast.post(path, data, headers)
            except PeerDown as error:
                self._count("timeout" if error.timeout else "unreachable")
                raise PeerUnavailable("reservations", timeout=error.timeout) from error
            # A service token may have been revoked or signed by a retired key: a fresh one, once.
            if status == 401 and attempt == 1 and self.tokens:
                self.tokens.invalidate()
                continue
            break
        self._count(str(status))
        return status, answer

    def _count(self, outcome: str) -> None:
        """outbound_requests_total, its child per outcome looked up once (``labels()`` is not free)."""
        child = self._outcomes.get(outcome)
        if child is None:
            child = self._outcomes.setdefault(outcome, OUTBOUND.labels("reservations", "POST", outcome))
        child.inc()


def init_clients(app: Flask) -> None:
    tokens = service_credentials(app.config, " ".join(topology.service("search").scopes))
    # A slow reservations must not make search slow: short read timeout, no retries.
    app.extensions["search_reservations"] = AvailabilityClient(
        app.config.get("RESERVATIONS_URL") or peer_url("reservations"), tokens,
        read_timeout=app.config.get("AVAILABILITY_TIMEOUT", 1.0),
    )


# What reservations would answer for no room types (they are not asked).
NOTHING_ASKED = b'{"room_types": []}'


def free_rooms(checkin: date, checkout: date, inventory: dict[str, int]) -> dict[str, int] | None:
    """Free rooms per room type for the whole stay, in one call; None when unknown."""
    return parse_free(availability_answer(checkin, checkout, asked_json(inventory)))


def asked_json(inventory: dict[str, int]) -> bytes:
    """The ``room_types`` of an availability request: rooms per room type id, as JSON."""
    return json.dumps([{"room_type_id": rid, "rooms": rooms} for rid, rooms in inventory.items()],
                      separators=(",", ":")).encode()


def availability_answer(checkin: date, checkout: date, room_types: bytes) -> bytes | None:
    """reservations' answer about free rooms for the whole stay, as it came; None when it gave none.

    ``room_types`` is :func:`asked_json`'s (a search keeps it with its candidates:
    encoding sixty room types was a sixth of a search's CPU).
    """
    if room_types == b"[]":
        return NOTHING_ASKED
    client: AvailabilityClient = current_app.extensions["search_reservations"]
    body = b'{"checkin":"%s","checkout":"%s","room_types":%s}' % (
        checkin.isoformat().encode(), checkout.isoformat().encode(), room_types)
    try:
        status, answer = client.post("/availability", body)
    except PeerUnavailable as error:
        log.warning("%s unavailable: availability unknown", error.peer)
        return None
    if status != 200:
        log.warning("availability refused: %s %s", status, answer[:200].decode("utf-8", "replace"))
        return None
    return answer


def parse_free(answer: bytes | None) -> dict[str, int] | None:
    """Free rooms per room type from an availability answer; None when unknown or malformed."""
    if answer is None:
        return None
    try:
        return {item["room_type_id"]: int(item["free"]) for item in json.loads(answer)["room_types"]}
    except (ValueError, KeyError, TypeError, RecursionError):
        log.warning("availability answer malformed")
        return None
