"""Database setup: one Flask-SQLAlchemy object per service, SQLite or PostgreSQL."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData, event, text
from sqlalchemy.engine import Engine
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


def init_database(app: Flask, db: SQLAlchemy) -> None:
    from hotelbook_chassis.health import add_ready_check
    from hotelbook_chassis.migrations import register_db_cli

    url = app.config["SQLALCHEMY_DATABASE_URI"]
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


def is_sqlite(db: SQLAlchemy) -> bool:
    return db.engine.dialect.name == "sqlite"
