"""search: the hotel catalogue, and search by city, dates and guests."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from hotelbook_chassis import create_service_app
from hotelbook_chassis.config import peer_url
from hotelbook_search.api import blp
from hotelbook_search.clients import init_clients
from hotelbook_search.models import db
from hotelbook_search.seed import init_cli


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = create_service_app(
        __name__,
        service="search",
        title="hotelbook search",
        config=config,
        defaults={"RESERVATIONS_URL": peer_url("reservations"), "AVAILABILITY_TIMEOUT": 1.0},
        db=db,
        blueprints=[blp],
    )
    init_clients(app)
    init_cli(app)
    return app
