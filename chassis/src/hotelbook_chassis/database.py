"""Database setup: one Flask-SQLAlchemy object per service, SQLite or PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from flask import Flask, current_app
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import DeclarativeBase

# Named constraints keep Alembic migrations portable between SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def make_db() -> SQLAlchemy:
    """A fresh ``db`` with its own metadata, so two services never share tables."""

    class Base(DeclarativeBase):
        metadata = MetaData(naming_convention=NAMING_CONVENTION)

    return SQLAlchemy(model_class=Base)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside a writer; busy_timeout makes concurrent
    # gunicorn workers wait for the write lock instead of failing at once.
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def engine_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 15}}
    return {"pool_pre_ping": True, "pool_size": 5, "max_overflow": 10, "pool_recycle": 1800}


def private_sqlite_file(url: str) -> None:
    """A SQLite database file (password hashes, tokens) readable by its owner only.

    Created empty with mode 0600 when missing (SQLite gives its journal files the
    database's mode), and an existing one is made private too."""
    if not url.startswith("sqlite"):
        return
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    # Relative paths are Flask-SQLAlchemy's (under the instance folder): left alone.
    if not path.is_absolute() or not path.parent.is_dir():
        return
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    path.chmod(0o600)


def init_database(app: Flask, db: SQLAlchemy) -> None:
    from hotelbook_chassis.health import add_ready_check
    from hotelbook_chassis.migrations import register_db_cli

    url = app.config["SQLALCHEMY_DATABASE_URI"]
    private_sqlite_file(url)
    options = engine_options(url)
    options.update(app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {}))
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    db.init_app(app)
    app.extensions["hotelbook_db"] = db
    register_db_cli(app)

    def database_ready() -> str | None:
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
        return None

    add_ready_check(app, "database", database_ready)


Row = TypeVar("Row")


def get_or_404(source: type[Row] | Callable[[Any], Row | None], ident: Any, detail: str, *,
               max_length: int | None = 36, uuid: bool = False, **options: Any) -> Row:
    """The row with this primary key, or a 404 problem (``type: not-found``).

    ``source`` is a model class (read with ``Session.get``, given ``options`` such as
    ``populate_existing=True``) or a function of the id returning the row or None (a
    service reading plain rows with its own statement). An id that cannot be one never
    reaches a query: longer than ``max_length`` (the column's width), or not a
    canonical UUID when ``uuid``."""
    from hotelbook_chassis.problems import Problem
    from hotelbook_chassis.schemas import is_uuid

    fits = is_uuid(ident) if uuid else max_length is None or len(ident) <= max_length
    if not fits:
        found = None
    elif isinstance(source, type):
        found = current_app.extensions["hotelbook_db"].session.get(source, ident, **options)
    else:
        found = source(ident)
    if found is None:
        raise Problem(404, detail, type="not-found")
    return found


def is_sqlite(db: SQLAlchemy) -> bool:
    return db.engine.dialect.name == "sqlite"
