"""Wires the page blueprints and what every template sees."""

from __future__ import annotations

from datetime import date

from flask import Flask

from hotelbook_ui.actions.guest import current_guest
from hotelbook_ui.api.account import bp as account_bp
from hotelbook_ui.api.account import login_url
from hotelbook_ui.api.booking import bp as booking_bp
from hotelbook_ui.api.pages import bp as pages_bp
from hotelbook_ui.domain import SORTS, format_money, local_time


def _day(value: str | None) -> str:
    try:
        return date.fromisoformat(value).strftime("%a %d %b %Y") if value else "—"
    except ValueError:
        return value or "—"


def register_views(app: Flask) -> None:
    for blueprint in (pages_bp, account_bp, booking_bp):
        app.register_blueprint(blueprint)
    app.add_template_filter(format_money, "money")
    app.add_template_filter(_day, "day")
    app.add_template_filter(local_time, "local_time")
    app.add_template_global(login_url)

    @app.context_processor
    def common() -> dict[str, object]:
        return {"guest": current_guest(), "sorts": SORTS}

    @app.after_request
    def page_headers(response):
        # Pages carry guest data: never cached by shared caches; no framing, no sniffing.
        if response.mimetype == "text/html":
            response.headers.setdefault("Cache-Control", "no-store")
            response.headers.setdefault("X-Frame-Options", "DENY")
            response.headers.setdefault(
                "Content-Security-Policy",
                "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                "form-action 'self' " + app.config["PUBLIC_URL"] + "; frame-ancestors 'none'; base-uri 'self'",
            )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response
