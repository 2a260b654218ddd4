"""Hotelbook's look, shared by every app that shows a guest a page (booking-ui and auth's log-in).

One stylesheet, one icon and one page frame, kept here and served by each app from its own
path (no copy): an app calls :func:`register_theme` and its templates extend
``theme/page.html``, filling the blocks ``title``, ``brand``, ``nav``, ``content`` and
``footer``. ``url_for('theme.static', filename='site.css')`` is the stylesheet's address in
that app.
"""

from __future__ import annotations

from flask import Blueprint, Flask

SITE_NAME = "Hotelbook"


def register_theme(app: Flask, url_path: str) -> Blueprint:
    """Serve the theme's files under ``url_path`` (e.g. ``/static/theme``) and its templates."""
    blueprint = Blueprint("theme", __name__, static_folder="static", static_url_path=url_path.rstrip("/"),
                          template_folder="templates")
    app.register_blueprint(blueprint)
    app.jinja_env.globals.setdefault("site_name", SITE_NAME)
    return blueprint
