"""Opaque, signed ``next_token`` values for keyset pagination.

The token carries the last key seen; it is signed so a client cannot forge one
to read past its own filters, and a bad one is a 400 naming ``next_token``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from hotelbook_chassis.problems import invalid


def _serializer(salt: str) -> URLSafeSerializer:
    return _serializer_for(current_app.config["SECRET_KEY"], salt)


@lru_cache(maxsize=1024)
def _serializer_for(secret_key: str, salt: str) -> URLSafeSerializer:
    # Built once per list (salts name a list, e.g. a city and a sort), not per request.
    return URLSafeSerializer(secret_key, salt=f"page:{salt}")


def encode_page_token(position: dict[str, Any], salt: str) -> str:
    return _serializer(salt).dumps(position)


def decode_page_token(token: str | None, salt: str) -> dict[str, Any] | None:
    if not token:
        return None
    try:
        position = _serializer(salt).loads(token)
    except BadSignature:
        raise invalid("next_token", "Not a token this endpoint issued.") from None
    if not isinstance(position, dict):
        raise invalid("next_token", "Not a token this endpoint issued.")
    return position


def page(items: list[Any], next_position: dict[str, Any] | None, salt: str) -> dict[str, Any]:
    """The list shape of ARCHITECTURE.md: ``{"items": [...], "next_token": ...}``."""
    return {"items": items, "next_token": encode_page_token(next_position, salt) if next_position else None}
