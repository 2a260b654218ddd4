"""users, auth's one peer: ``POST /credentials/verify`` with a token auth signs for itself."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, current_app

from hotelbook_auth.actions.tokens import service_token
from hotelbook_chassis import topology
from hotelbook_chassis.client import PeerUnavailable, ServiceClient

log = logging.getLogger("hotelbook.auth.users")
VERIFY_SCOPE = " ".join(topology.service("auth").scopes)  # hotelbook_chassis/topology.toml


class UsersClient:
    def __init__(self, base_url: str, timeout: tuple[float, float]) -> None:
        self.http = ServiceClient("users", base_url, connect_timeout=timeout[0], read_timeout=timeout[1])

    def verify(self, email: str, password: str) -> dict[str, Any] | None:
        """The user when the password is right, None when not; PeerUnavailable when users cannot say."""
        config = current_app.config
        token = service_token(current_app.extensions["auth_keys"], issuer=config["OAUTH_ISSUER"],
                              scope=VERIFY_SCOPE, ttl=config["SERVICE_TOKEN_TTL"])
        response = self.http.post("/credentials/verify", json={"email": email, "password": password},
                                  bearer=token)
        if response.status_code == 400:  # e.g. not an e-mail address: simply not valid credentials
            return None
        if response.status_code != 200:
            log.error("users answered %s to /credentials/verify", response.status_code)
            raise PeerUnavailable("users")
        try:
            body = response.json()
        except ValueError as error:
            raise PeerUnavailable("users") from error
        user = body.get("user") if isinstance(body, dict) else None
        if body.get("valid") is True and isinstance(user, dict) and user.get("id"):
            return user
        return None


def init_users_client(app: Flask) -> None:
    app.extensions["auth_users"] = UsersClient(app.config["USERS_URL"], app.config["USERS_TIMEOUT"])


def users() -> UsersClient:
    return current_app.extensions["auth_users"]
