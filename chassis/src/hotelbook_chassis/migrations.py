"""Alembic migrations, driven from the service's own package.

Each service keeps only its revisions, in ``<package>/migrations/versions``;
the Alembic environment and revision template are the chassis's own.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import click
from alembic import command
from alembic.config import Config
from flask import Flask, current_app


def _versions_folder(import_name: str) -> Path:
    parts = import_name.split(".")
    for depth in range(len(parts), 0, -1):
        try:
            module = importlib.import_module(".".join(parts[:depth]))
        except ImportError:
            continue
        folder = Path(module.__file__).parent / "migrations" / "versions"
        if folder.is_dir():
            return folder
    raise RuntimeError(f"no migrations/versions folder for {import_name}")


def alembic_config(app: Flask) -> Config:
    # An app inside a package (e.g. ``hotelbook_x.sandbox``) may keep its own
    # revisions; otherwise they are the top package's.
    versions = _versions_folder(app.import_name)
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "alembic"))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", str(versions))
    config.set_main_option("sqlalchemy.url", app.config["SQLALCHEMY_DATABASE_URI"])
    config.attributes["app"] = app
    return config


def upgrade(app: Flask, revision: str = "head") -> None:
    """Bring the service's database to ``revision`` (idempotent)."""
    with app.app_context():
        command.upgrade(alembic_config(app), revision)


def run_env() -> None:
    """Body of the shared ``alembic/env.py``."""
    from alembic import context

    app: Flask = context.config.attributes.get("app") or current_app._get_current_object()
    db = app.extensions["hotelbook_db"]
    with app.app_context():
        engine = db.engine
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=db.metadata,
                render_as_batch=engine.dialect.name == "sqlite",
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()


def register_db_cli(app: Flask) -> None:
    group = click.Group("db", help="Database migrations.")

    @group.command("upgrade")
    @click.argument("revision", default="head")
    def upgrade_cmd(revision: str) -> None:
        """Apply migrations up to REVISION (default: head)."""
        upgrade(current_app._get_current_object(), revision)
        click.echo(f"{current_app.config['SERVICE_NAME']}: database at {revision}")

    @group.command("revision")
    @click.option("-m", "--message", required=True)
    @click.option("--autogenerate/--empty", default=True)
    def revision_cmd(message: str, autogenerate: bool) -> None:
        """Write a new migration, compared against the models by default."""
        command.revision(alembic_config(current_app._get_current_object()), message, autogenerate=autogenerate)

    app.cli.add_command(group)
