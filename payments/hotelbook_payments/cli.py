"""``flask --app hotelbook_payments reconcile``."""

from __future__ import annotations

import json

import click
from flask import Flask


def init_cli(app: Flask) -> None:
    @app.cli.command("reconcile")
    @click.option("--older-than", type=float, default=None,
                  help="Resume pending payments idle this many seconds (default: twice BANK_TIMEOUT + 5, "
                       "since a live request may still own a younger one).")
    def reconcile_command(older_than: float | None) -> None:
        """Finish payments a crash or a lost bank answer left pending, and run every outstanding outbox job."""
        from hotelbook_payments.actions import reconcile

        click.echo(json.dumps(reconcile(older_than)))
