"""The bank sandbox: a stand-in for the outside bank, with the test cards of common payment sandboxes.

``4242424242424242`` succeeds; ``4000000000000002`` is declined; ``4000000000009995``
is declined for insufficient funds; ``4000000000000119`` fails with HTTP 500;
``4000000000000259`` is charged at once but answered only after ``BANK_SLOW_SECONDS``
(default 30), as when a bank's answer is lost to the client's read timeout.
The same ``idempotency_key`` always gives the same charge.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from hotelbook_bank.api import blp
from hotelbook_bank.models import db
from hotelbook_bank.settings import defaults
from hotelbook_chassis import create_service_app


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    return create_service_app(
        __name__,
        service="bank",
        title="hotelbook bank sandbox",
        config=config,
        defaults=defaults(),
        db=db,
        blueprints=[blp],
    )
