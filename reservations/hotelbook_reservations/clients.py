"""Calls to search (prices), payments (refunds), users (guest names) and pdf-reporting (receipts)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app

from hotelbook_chassis import Problem, topology
from hotelbook_chassis.client import PeerUnavailable, ServiceClient, service_credentials

# The scopes reservations asks for (hotelbook_chassis/topology.toml).
SCOPES = " ".join(topology.service("reservations").scopes)


@dataclass(frozen=True)
class Peers:
    search: ServiceClient
    payments: ServiceClient
    users: ServiceClient
    pdf: ServiceClient


def init_clients(app: Flask) -> None:
    config = app.config
    tokens = service_credentials(config, SCOPES)
    app.extensions["reservations_peers"] = Peers(
        search=ServiceClient("search", config["SEARCH_URL"]),
        payments=ServiceClient("payments", config["PAYMENTS_URL"], tokens=tokens,
                               read_timeout=topology.service("reservations").timeouts["payments"]),
        users=ServiceClient("users", config["USERS_URL"], tokens=tokens),
        pdf=ServiceClient("pdf-reporting", config["PDF_REPORTING_URL"], tokens=tokens,
                          read_timeout=topology.service("reservations").timeouts["pdf-reporting"]),
    )


def peers() -> Peers:
    return current_app.extensions["reservations_peers"]


def fetch_hotel(hotel_id: str) -> dict[str, Any]:
    response = peers().search.get(f"/hotels/{hotel_id}")
    if response.status_code == 404:
        raise Problem(404, "No hotel with this id.", type="not-found", invalid_params=[
            {"name": "hotel_id", "reason": "unknown hotel"}])
    if response.status_code != 200:
        raise PeerUnavailable("search")
    return response.json()


def refund(payment_id: str, amount: int, currency: str) -> int:
    """Refund ``amount`` of the payment; returns what payments actually refunded (idempotent per payment)."""
    response = peers().payments.post(f"/payments/{payment_id}/refund",
                                     json={"amount": {"amount": amount, "currency": currency}},
                                     idempotency_key=f"refund-{payment_id}")
    if response.status_code != 200:
        current_app.logger.error("refund refused: %s %s", response.status_code, response.text[:300])
        raise PeerUnavailable("payments")
    refunded = (response.json() or {}).get("refunded") or {}
    return int(refunded.get("amount", amount))


def guest(user_id: str) -> dict[str, Any]:
    response = peers().users.get(f"/users/{user_id}")
    if response.status_code != 200:
        raise PeerUnavailable("users")
    return response.json()


def render_pdf(template: str, data: dict[str, Any]) -> bytes:
    # A render changes nothing: safe to send again, to another pdf-reporting instance when the
    # one rendering it died (a key marks a POST as repeatable; the same content, the same key).
    body = {"template": template, "data": data}
    key = "render-" + hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:32]
    response = peers().pdf.post("/render", json=body, idempotency_key=key)
    if response.status_code != 200:
        current_app.logger.error("render refused: %s %s", response.status_code, response.text[:300])
        raise PeerUnavailable("pdf-reporting")
    return response.content
