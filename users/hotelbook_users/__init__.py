"""users: accounts, password hashes (argon2id), e-mail verification and password reset."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from hotelbook_chassis import create_service_app
from hotelbook_users.actions.passwords import init_passwords
from hotelbook_users.actions.revocations import init_revocations
from hotelbook_users.api import blp
from hotelbook_users.models import db
from hotelbook_users.settings import defaults


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = create_service_app(
        __name__,
        service="users",
        title="hotelbook users",
        config=config,
        defaults=defaults(),
        db=db,
        blueprints=[blp],
    )
    init_passwords(app)
    init_revocations(app)
    return app
