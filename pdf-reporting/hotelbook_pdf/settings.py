"""pdf-reporting's settings: the largest request body (template data) it reads."""

from __future__ import annotations

from typing import Any


def defaults() -> dict[str, Any]:
    """The service's configuration defaults; ``create_app(config)`` overrides any of them."""
    return {"MAX_CONTENT_LENGTH": 64 * 1024}
