"""search: the hotel catalogue, and search by city, dates and guests."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from hotelbook_chassis import create_service_app
from hotelbook_search.api import blp
from hotelbook_search.models import db


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    return create_service_app(
        __name__,
        service="search",
        title="hotelbook search",
        config=config,
        db=db,
        blueprints=[blp],
    )
