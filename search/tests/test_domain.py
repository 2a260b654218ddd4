from datetime import date

from hotelbook_chassis.stays import stay_errors
from hotelbook_search.domain import RoomOffer, cheapest_fitting, city_key

TODAY = date(2026, 11, 23)


def test_city_key_ignores_case_and_accents():
    assert city_key("Zürich") == city_key("zurich") == city_key(" ZÜRICH ")
    assert city_key("São Paulo") == "sao paulo"
    assert city_key("Gdańsk") == "gdansk"


def test_stay_rules():
    assert stay_errors(None, None, TODAY) == {}
    assert "checkout" in stay_errors(date(2026, 12, 1), None, TODAY)
    assert "checkin" in stay_errors(date(2026, 11, 1), date(2026, 11, 3), TODAY)
    assert "checkout" in stay_errors(date(2026, 12, 3), date(2026, 12, 3), TODAY)
    assert "checkout" in stay_errors(date(2026, 12, 1), date(2027, 1, 1), TODAY)
    assert stay_errors(date(2026, 12, 1), date(2026, 12, 31), TODAY) == {}


def test_cheapest_fitting_room_respects_guests_and_free_rooms():
    offers = [RoomOffer("single", 1, 5000, "EUR", 3), RoomOffer("double", 2, 9000, "EUR", 1),
              RoomOffer("family", 4, 15000, "EUR", 2)]
    assert cheapest_fitting(offers, 1).room_type_id == "single"
    assert cheapest_fitting(offers, 2).room_type_id == "double"
    assert cheapest_fitting(offers, 2, {"double": 0, "family": 1}).room_type_id == "family"
    assert cheapest_fitting(offers, 5) is None


def test_vat_table_is_plain_decimal_percentages_per_country():
    from hotelbook_search.domain.taxes import check_table, vat_percent

    check_table()
    assert vat_percent("CH") == "3.8" and vat_percent("fr") == "10"
    assert vat_percent("ZZ") is None and vat_percent("") is None


def test_the_availability_client_reads_every_way_an_http_answer_may_end():
    import io

    import pytest

    from hotelbook_search.clients import BadAnswer, read_answer

    def read(raw):
        return read_answer(io.BufferedReader(io.BytesIO(raw)))

    assert read(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Other: a:b\r\n\r\n{}") == (200, b"{}", False)
    assert read(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4;ext\r\n\":1}\r\n0\r\n\r\n") == (
        200, b'{"a":1}', False)
    assert read(b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n") == (
        503, b"", True)
    assert read(b"HTTP/1.0 200 OK\r\n\r\n{\"until\": \"closed\"}") == (200, b'{"until": "closed"}', True)
    assert read(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\n{}") == (200, b"{}", False)
    with pytest.raises(ConnectionResetError):
        read(b"")
    for bad in (b"SSH-2.0-OpenSSH\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n{}",
                b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n{}", b"HTTP/1.1 200 OK\r\nContent-Le",
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"):
        with pytest.raises(BadAnswer):
            read(bad)

    class Trickle(io.RawIOBase):
        """A peer whose answer comes a few bytes per read: the header block is read line by line."""

        def __init__(self, data):
            self.data = data

        def readable(self):
            return True

        def readinto(self, buffer):
            chunk, self.data = self.data[:7], self.data[7:]
            buffer[: len(chunk)] = chunk
            return len(chunk)

    two = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\n{}"
    trickled = io.BufferedReader(Trickle(two + b"HTTP/1.1 503 No\r\ncontent-length : 1\r\n\r\nx"))
    assert read_answer(trickled) == (200, b"{}", False)
    assert read_answer(trickled) == (503, b"x", False)  # the next answer on the same connection
    both = io.BufferedReader(io.BytesIO(two + two))
    assert read_answer(both) == read_answer(both) == (200, b"{}", False)


def test_the_catalogue_revision_changes_on_every_commit_and_when_the_file_is_replaced(tmp_path):
    import sqlite3

    from hotelbook_search.actions.answers import AnswerCache, sqlite_revision

    path = tmp_path / "catalogue.db"
    with sqlite3.connect(path) as writer:
        writer.execute("PRAGMA journal_mode=WAL")
        writer.execute("CREATE TABLE hotels (name TEXT)")
    revision = sqlite_revision(str(path))
    cache = AnswerCache(revision)
    first, _ = cache.lookup(b"q")
    cache.put(b"q", b"answer", first, 6)
    assert cache.lookup(b"q") == (first, b"answer") and revision() == first
    with sqlite3.connect(path) as writer:
        writer.execute("INSERT INTO hotels VALUES ('new')")
    assert cache.lookup(b"q")[1] is None
    cache.put(b"q", b"stale", first, 5)  # computed before the change: not kept
    assert cache.lookup(b"q")[1] is None
    second = revision()
    path.unlink()
    with sqlite3.connect(path) as writer:
        writer.execute("CREATE TABLE hotels (name TEXT)")
    assert revision() not in (None, second)
    path.unlink()
    assert revision() is None and cache.lookup(b"q") == (None, None)
