"""``flask --app hotelbook_reservations sweep``."""

from __future__ import annotations

import click
from flask import Flask


def init_cli(app: Flask) -> None:
    @app.cli.command("sweep")
    def sweep_command() -> None:
        """Expire every hold past its time and give its nights back."""
        from hotelbook_reservations.actions import sweep

        click.echo(f"expired {sweep()} holds")
