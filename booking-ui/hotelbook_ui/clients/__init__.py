"""The peers the pages talk to: search, users, reservations, payments (chassis ServiceClient)."""

from __future__ import annotations

import logging
from typing import Any

import requests
from flask import Flask, current_app

from hotelbook_chassis import topology
from hotelbook_chassis.client import ClientCredentials, PeerError, PeerUnavailable, ServiceClient, expect

log = logging.getLogger("hotelbook.ui.clients")

__all__ = ["PeerError", "PeerUnavailable", "Peers", "peers"]


class Peers:
    """One ServiceClient per peer, built from the app's config."""

    def __init__(self, config: dict[str, Any]) -> None:
        timeouts = {"connect_timeout": config["PEER_CONNECT_TIMEOUT"], "read_timeout": config["PEER_READ_TIMEOUT"]}
        self.search = ServiceClient("search", config["SEARCH_URL"], **timeouts)
        self.reservations = ServiceClient("reservations", config["RESERVATIONS_URL"], **timeouts)
        # Payments may wait on the bank: a longer read timeout, and the Idempotency-Key makes
        # the chassis retry safely.
        self.payments = ServiceClient("payments", config["PAYMENTS_URL"], connect_timeout=timeouts["connect_timeout"],
                                      read_timeout=max(config["PEER_READ_TIMEOUT"],
                                                       topology.service("booking-ui").timeouts["payments"]))
        # Public users endpoints (the token in the mailed link is the credential).
        self.users_public = ServiceClient("users", config["USERS_URL"], **timeouts)
        self.users_service: ServiceClient | None = None
        if config.get("CLIENT_ID") and config.get("CLIENT_SECRET"):
            credentials = ClientCredentials(
                f"{config['AUTH_URL']}/oauth/token", config["CLIENT_ID"], config["CLIENT_SECRET"],
                " ".join(s for s in topology.service("booking-ui").scopes if s != config["GUEST_SCOPE"])
            )
            self.users_service = ServiceClient("users", config["USERS_URL"], tokens=credentials, **timeouts)

    # --- search (public) ---------------------------------------------------------------

    def hotels(self, params: dict[str, Any]) -> dict[str, Any]:
        return expect(self.search.get("/hotels", params=params), "search", 200)

    def hotel(self, hotel_id: str, params: dict[str, Any]) -> dict[str, Any]:
        return expect(self.search.get(f"/hotels/{hotel_id}", params=params), "search", 200)

    def cities(self, prefix: str) -> list[dict[str, Any]]:
        body = expect(self.search.get("/cities", params={"prefix": prefix}), "search", 200)
        return body.get("items", []) if isinstance(body, dict) else list(body or [])

    # --- users ----------------------------------------------------------------------------

    def create_user(self, email: str, name: str, password: str) -> dict[str, Any] | None:
        """users answers 202 whether the address is new or taken (it mails the owner instead)."""
        if self.users_service is None:
            log.error("CLIENT_ID/CLIENT_SECRET not configured: cannot create users")
            raise PeerUnavailable("users")
        return expect(self.users_service.post("/users", json={"email": email, "name": name, "password": password}),
                      "users", 202, 201, 200)

    def me(self, token: str) -> dict[str, Any]:
        return expect(self.users_public.get("/users/me", bearer=token), "users", 200)

    def resend_verification(self, token: str) -> None:
        expect(self.users_public.post("/users/me/verification-email", bearer=token), "users", 200, 202, 204)

    def verify_email(self, token: str) -> dict[str, Any] | None:
        return expect(self.users_public.post("/email-verifications", json={"token": token}), "users", 200, 204)

    def request_password_reset(self, email: str) -> None:
        expect(self.users_public.post("/password-resets", json={"email": email}), "users", 202, 200, 204)

    def confirm_password_reset(self, token: str, password: str) -> None:
        expect(self.users_public.post("/password-resets/confirm", json={"token": token, "password": password}),
               "users", 200, 204)

    # --- reservations and payments (the guest's own token) ----------------------------------

    def hold(self, token: str, body: dict[str, Any]) -> dict[str, Any]:
        return expect(self.reservations.post("/reservations", json=body, bearer=token), "reservations", 201, 200)

    def reservations_page(self, token: str, params: dict[str, Any]) -> dict[str, Any]:
        return expect(self.reservations.get("/reservations", params=params, bearer=token), "reservations", 200)

    def reservation(self, token: str, reservation_id: str) -> dict[str, Any]:
        return expect(self.reservations.get(f"/reservations/{reservation_id}", bearer=token), "reservations", 200)

    def cancel(self, token: str, reservation_id: str) -> dict[str, Any]:
        return expect(self.reservations.post(f"/reservations/{reservation_id}/cancel", bearer=token),
                      "reservations", 200)

    def receipt(self, token: str, reservation_id: str) -> requests.Response:
        response = self.reservations.get(f"/reservations/{reservation_id}/receipt.pdf", bearer=token,
                                         headers={"Accept": "application/pdf"}, timeout=(2.0, 30.0))
        if response.status_code != 200:
            expect(response, "reservations", 200)
        return response

    def pay(self, token: str, reservation_id: str, card: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        return expect(
            self.payments.post("/payments", json={"reservation_id": reservation_id, "card": card}, bearer=token,
                               idempotency_key=idempotency_key),
            "payments", 201, 200,
        )


def init_peers(app: Flask) -> None:
    app.extensions["ui_peers"] = Peers(app.config)


def peers() -> Peers:
    return current_app.extensions["ui_peers"]
