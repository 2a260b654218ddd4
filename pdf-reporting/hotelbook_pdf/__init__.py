"""pdf-reporting: template + JSON data -> PDF (WeasyPrint), sandboxed and fetching nothing outside."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from hotelbook_chassis import create_service_app
from hotelbook_pdf.actions import Renderer
from hotelbook_pdf.api import blp
from hotelbook_pdf.settings import defaults


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = create_service_app(
        __name__,
        service="pdf-reporting",
        title="hotelbook pdf-reporting",
        config=config,
        defaults=defaults(),
        blueprints=[blp],
    )
    app.extensions["pdf_renderer"] = Renderer()
    return app
