"""Calls to the bank, reservations and users."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests
from flask import Flask, current_app
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from hotelbook_chassis import topology
from hotelbook_chassis.client import PeerUnavailable, ServiceClient, service_credentials

# The scopes payments asks for (hotelbook_chassis/topology.toml).
SCOPES = " ".join(topology.service("payments").scopes)


@dataclass(frozen=True)
class Peers:
    bank: ServiceClient
    reservations: ServiceClient
    users: ServiceClient


def init_clients(app: Flask) -> None:
    config = app.config
    tokens = service_credentials(config, SCOPES)
    app.extensions["payments_peers"] = Peers(
        # No transport retries: after a retried read timeout urllib3 reports a connection
        # error, which would hide that the charge may have happened.
        bank=ServiceClient("bank", config["BANK_URL"], read_timeout=config["BANK_TIMEOUT"], retries=0,
                           trust_env=True),  # an outside party: the environment's proxy settings apply
        reservations=ServiceClient("reservations", config["RESERVATIONS_URL"], tokens=tokens),
        users=ServiceClient("users", config["USERS_URL"], tokens=tokens),
    )


def peers() -> Peers:
    return current_app.extensions["payments_peers"]


class BankOutcome:
    """What the bank said: a charge body, a declined charge, a bank error, or no answer in time."""

    def __init__(self, kind: str, charge: dict[str, Any] | None = None) -> None:
        # succeeded | declined | error (the bank said so, or was never reached) | unknown (answer lost)
        self.kind = kind
        self.charge = charge or {}


def never_sent(error: BaseException) -> bool:
    """True only when the connection to the bank was never made, so nothing can have been charged."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, (requests.ConnectTimeout, NewConnectionError, ConnectTimeoutError)):
            return True
        for arg in getattr(cause, "args", ()):
            if isinstance(getattr(arg, "reason", None), (NewConnectionError, ConnectTimeoutError)):
                return True
        cause = cause.__cause__ or cause.__context__
    return False


def charge(amount: int, currency: str, card: dict[str, Any], key: str) -> BankOutcome:
    body = {"amount": amount, "currency": currency, "idempotency_key": key,
            "card": {name: card[name] for name in ("number", "exp_month", "exp_year", "cvc")}}
    try:
        # The bank's own idempotency key makes every retry of this call safe.
        response = peers().bank.post("/charges", json=body, idempotency_key=key)
    except PeerUnavailable as error:
        return BankOutcome("error" if never_sent(error) else "unknown")
    if response.status_code >= 500:
        return BankOutcome("error")
    if response.status_code != 201:
        current_app.logger.error("bank refused the charge request: %s", response.status_code)
        return BankOutcome("error")
    found = response.json()
    return BankOutcome(found["status"], found)


def charge_by_key(key: str) -> dict[str, Any] | None:
    """The bank's charge for this key, None when the bank has none (raises PeerUnavailable)."""
    response = peers().bank.get("/charges", params={"idempotency_key": key})
    if response.status_code == 404:
        return None
    if response.status_code != 200:
        raise PeerUnavailable("bank")
    return response.json()


def refund(charge_id: str, amount: int | None = None) -> int:
    """Refund the charge (``amount`` of it, or all); returns what the bank refunded (the first, if asked again)."""
    body: dict[str, Any] = {"charge_id": charge_id, **({"amount": amount} if amount is not None else {})}
    response = peers().bank.post("/refunds", json=body, idempotency_key=f"refund-{charge_id}")
    if response.status_code != 200:
        raise PeerUnavailable("bank")
    return int(response.json()["refunded_amount"])


def reservation(reservation_id: str, bearer: str | None) -> requests.Response:
    return peers().reservations.get(f"/reservations/{reservation_id}", bearer=bearer)


def confirm(reservation_id: str, payment_id: str) -> requests.Response:
    return peers().reservations.post(f"/reservations/{reservation_id}/confirm", json={"payment_id": payment_id},
                                     idempotency_key=f"confirm-{payment_id}")


def user(user_id: str) -> dict[str, Any]:
    response = peers().users.get(f"/users/{user_id}")
    if response.status_code != 200:
        raise PeerUnavailable("users")
    return response.json()
