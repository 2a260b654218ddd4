"""Search answers kept per process until the catalogue changes.

A city search without dates depends on nothing but its query string and the
catalogue, and the same few cities are asked for again and again. So its answer
(the JSON body) is kept, keyed by the raw query string, and served again while
the catalogue's database has committed no change since it was computed. A search
with dates keeps, the same way, its candidate hotels with their room types (they
do not depend on the dates; availability is asked for on every search). Whether
the catalogue changed is asked of the database on every request, so a write
through any worker or process (the admin API, the seed, a migration) is seen by
the very next search, in every worker.

The check has to cost far less than the search it saves: on a SQLite file it is
``PRAGMA data_version`` on a connection kept for it (a few microseconds; its value
changes whenever another connection committed to the file). On other databases
there is no check that cheap without a lock every catalogue write would queue
on, so nothing is kept there and every search is computed.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from sqlalchemy.engine import Engine

# Kept per process and per cache, by (estimated) total size: a page of 100 hotels
# is about 25 kB of JSON.
MAX_BYTES = 8 * 1024 * 1024

Revision = Callable[[], Hashable | None]


def sqlite_revision(path: str) -> Revision:
    """The catalogue's revision on a SQLite file: ``PRAGMA data_version`` on a connection of its own.

    Two values of one connection differ when another connection committed in
    between; values of different connections are unrelated, so the connection's
    own number goes with them (a new one after a fork, an error, or when the
    file was replaced by another: the connection would still read the old one).
    None when the file cannot be asked.
    """
    lock = threading.Lock()
    state: dict[str, object] = {"pid": None, "connection": None, "cursor": None, "generation": 0, "file": None}

    def revision() -> Hashable | None:
        try:
            found = os.stat(path)
        except OSError:
            return None
        file = (found.st_dev, found.st_ino)
        with lock:
            connection = state["connection"]
            if connection is None or state["pid"] != os.getpid() or state["file"] != file:
                if connection is not None:
                    connection.close()  # type: ignore[attr-defined]
                    state["connection"] = None
                try:
                    connection = sqlite3.connect(path, timeout=1, check_same_thread=False, isolation_level=None)
                except sqlite3.Error:
                    return None
                state.update(pid=os.getpid(), connection=connection, cursor=connection.cursor(),
                             generation=int(state["generation"]) + 1, file=file)
            cursor = state["cursor"]
            try:
                version = cursor.execute("PRAGMA data_version").fetchone()[0]  # type: ignore[attr-defined]
            except sqlite3.Error:
                state["connection"] = None
                return None
            return state["generation"], version

    return revision


def revision_for(engine: Engine) -> Revision | None:
    """How to tell the catalogue changed, for this engine; None when there is no cheap way."""
    url = engine.url
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if not database or database == ":memory:" or database.startswith("file:") or url.query:
        return None  # an in-memory database is not shared between connections
    return sqlite_revision(database)


class AnswerCache:
    """Values by key, all dropped as soon as the revision changes; bounded by total size, LRU.

    A value is shared by every thread that finds it: it must never be changed.
    """

    def __init__(self, revision: Revision | None, max_bytes: int = MAX_BYTES) -> None:
        self._revision = revision
        self._max_bytes = max_bytes
        self._lock = threading.Lock()
        self._answers: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._seen: Hashable | None = None

    def lookup(self, key: Hashable, revision: Hashable | None = None) -> tuple[Hashable | None, Any]:
        """The catalogue's revision now, and the value kept for ``key`` under it (None: compute it).

        ``revision``: the revision as read earlier in the same request (not None), so that it is
        not asked of the database a second time.
        """
        if self._revision is None:
            return None, None
        current = self._revision() if revision is None else revision
        with self._lock:
            if current != self._seen:
                self._answers.clear()
                self._bytes = 0
                self._seen = current
            kept = self._answers.get(key) if current is not None else None
            if kept is None:
                return current, None
            self._answers.move_to_end(key)
            return current, kept[0]

    def put(self, key: Hashable, value: Any, revision: Hashable | None, size: int) -> None:
        """Keep ``value`` (about ``size`` bytes), computed after ``revision`` was read: only while that is
        still the current one."""
        if revision is None or size > self._max_bytes // 16:
            return
        with self._lock:
            if revision != self._seen or key in self._answers:
                return
            self._answers[key] = (value, size)
            self._bytes += size
            while self._bytes > self._max_bytes:
                _, (_, dropped) = self._answers.popitem(last=False)
                self._bytes -= dropped
