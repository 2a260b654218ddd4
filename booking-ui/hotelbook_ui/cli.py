"""``flask --app hotelbook_ui purge-sessions``."""

from __future__ import annotations

import click
from flask import Flask

from hotelbook_ui.actions.sessions import purge_expired


def init_cli(app: Flask) -> None:
    @app.cli.command("purge-sessions")
    def purge_sessions() -> None:
        """Delete expired browser sessions."""
        click.echo(f"{purge_expired()} expired sessions deleted")
