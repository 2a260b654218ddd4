"""The bank sandbox's settings: how long the slow test card's answer is held back."""

from __future__ import annotations

import os
from typing import Any


def defaults() -> dict[str, Any]:
    """The service's configuration defaults; ``create_app(config)`` overrides any of them."""
    return {"BANK_SLOW_SECONDS": float(os.environ.get("BANK_SLOW_SECONDS", "30"))}
