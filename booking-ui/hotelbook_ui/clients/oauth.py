"""booking-ui as a confidential OAuth2 client of auth: authorization code + PKCE, refresh, revoke."""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import urlencode

import requests
from flask import Flask, current_app

from hotelbook_chassis.client import PeerUnavailable
from hotelbook_chassis.observability import REQUEST_ID_HEADER, current_request_id

log = logging.getLogger("hotelbook.ui.oauth")


class OAuthError(Exception):
    """auth refused a grant (``invalid_grant``, ``invalid_client``...)."""

    def __init__(self, error: str, status: int) -> None:
        super().__init__(error)
        self.error = error
        self.status = status


class AuthClient:
    def __init__(self, config: dict[str, Any]) -> None:
        self.public_url = config["PUBLIC_URL"].rstrip("/")
        self.auth_url = config["AUTH_URL"].rstrip("/")
        self.client_id = config.get("CLIENT_ID") or "booking-ui"
        self.client_secret = config.get("CLIENT_SECRET") or ""
        self.redirect_uri = config["REDIRECT_URI"]
        self.scope = config["GUEST_SCOPE"]
        self.timeout = (config["PEER_CONNECT_TIMEOUT"], config["PEER_READ_TIMEOUT"])
        self.http = requests.Session()

    def authorize_url(self, state: str, challenge: str) -> str:
        """Where the browser goes to log in: auth's page, as the guest sees it (the gateway)."""
        query = urlencode({
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": self.scope,
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        })
        return f"{self.public_url}/oauth/authorize?{query}"

    def _post(self, path: str, data: dict[str, str]) -> requests.Response:
        headers = {"Accept": "application/json"}
        if current_request_id():
            headers[REQUEST_ID_HEADER] = current_request_id() or ""
        try:
            # client_secret_basic; server to server, never through the browser.
            return self.http.post(f"{self.auth_url}{path}", data=data, headers=headers,
                                  auth=(self.client_id, self.client_secret), timeout=self.timeout)
        except requests.Timeout as error:
            raise PeerUnavailable("auth", timeout=True) from error
        except requests.RequestException as error:
            raise PeerUnavailable("auth") from error

    def _tokens(self, response: requests.Response) -> dict[str, Any]:
        if response.status_code == 200:
            body = response.json()
            return {
                "access_token": body["access_token"],
                "refresh_token": body.get("refresh_token"),
                "expires_at": time.time() + float(body.get("expires_in", 300)),
            }
        if response.status_code >= 500:
            raise PeerUnavailable("auth")
        try:
            error = str(response.json().get("error", "invalid_request"))
        except ValueError:
            error = "invalid_request"
        log.warning("token request refused: %s %s", response.status_code, error)
        raise OAuthError(error, response.status_code)

    def exchange_code(self, code: str, verifier: str) -> dict[str, Any]:
        return self._tokens(self._post("/oauth/token", {
            "grant_type": "authorization_code", "code": code, "redirect_uri": self.redirect_uri,
            "code_verifier": verifier,
        }))

    def refresh(self, refresh_token: str) -> dict[str, Any]:
        return self._tokens(self._post("/oauth/token", {"grant_type": "refresh_token",
                                                         "refresh_token": refresh_token}))

    def revoke(self, refresh_token: str) -> None:
        """Best effort: the session is gone either way."""
        try:
            response = self._post("/oauth/revoke", {"token": refresh_token, "token_type_hint": "refresh_token"})
            if response.status_code != 200:
                log.warning("revocation answered %s", response.status_code)
        except PeerUnavailable:
            log.warning("auth unreachable: refresh token not revoked")


def init_auth_client(app: Flask) -> None:
    app.extensions["ui_auth"] = AuthClient(app.config)


def auth_client() -> AuthClient:
    return current_app.extensions["ui_auth"]
