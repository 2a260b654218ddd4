"""booking-ui as a confidential OAuth2 client of auth: authorization code + PKCE, refresh, revoke."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import requests
import requests.adapters
from authlib.integrations.base_client import OAuthError as AuthlibOAuthError
from authlib.integrations.requests_client import OAuth2Session
from flask import Flask, current_app

from hotelbook_chassis.client import PeerUnavailable
from hotelbook_chassis.observability import REQUEST_ID_HEADER, current_request_id

log = logging.getLogger("hotelbook.ui.oauth")
CLIENT_AUTH = "client_secret_basic"  # server to server, never through the browser
REFRESH_HINT = "refresh_token"  # the token_type_hint of a revocation


class OAuthError(Exception):
    """auth refused a grant (``invalid_grant``, ``invalid_client``...)."""

    def __init__(self, error: str, status: int) -> None:
        super().__init__(error)
        self.error = error
        self.status = status


class AuthClient:
    """The token and revocation calls go through Authlib's OAuth2 client (client_secret_basic,
    the grant bodies, token parsing); a fresh ``OAuth2Session`` per call, because Authlib keeps
    the last token on the session and one client serves every guest at once. The sessions share
    one connection pool."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.public_url = config["PUBLIC_URL"].rstrip("/")
        self.auth_url = config["AUTH_URL"].rstrip("/")
        self.client_id = config.get("CLIENT_ID") or "booking-ui"
        self.client_secret = config.get("CLIENT_SECRET") or ""
        self.redirect_uri = config["REDIRECT_URI"]
        self.scope = config["GUEST_SCOPE"]
        self.timeout = (config["PEER_CONNECT_TIMEOUT"], config["PEER_READ_TIMEOUT"])
        self.adapter = requests.adapters.HTTPAdapter()

    def _session(self) -> OAuth2Session:
        # No scope on the session: Authlib would add it to every refresh, and a refresh keeps
        # the scope the guest logged in with.
        oauth = OAuth2Session(self.client_id, self.client_secret, token_endpoint_auth_method=CLIENT_AUTH,
                              revocation_endpoint_auth_method=CLIENT_AUTH,
                              redirect_uri=self.redirect_uri)
        oauth.mount("http://", self.adapter)
        oauth.mount("https://", self.adapter)
        oauth.register_compliance_hook("access_token_response", _refused)
        oauth.register_compliance_hook("refresh_token_response", _refused)
        return oauth

    def authorize_url(self, state: str, challenge: str) -> str:
        """Where the browser goes to log in: auth's page, as the guest sees it (the gateway)."""
        url, _ = self._session().create_authorization_url(
            f"{self.public_url}/oauth/authorize", state=state, scope=self.scope,
            code_challenge=challenge, code_challenge_method="S256")
        return url

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"}
        if current_request_id():
            headers[REQUEST_ID_HEADER] = current_request_id() or ""
        return headers

    def _call(self, post: Callable[[], Any]) -> Any:
        """One server-to-server call to auth, never through the browser; its failures in our terms."""
        try:
            return post()
        except requests.Timeout as error:
            raise PeerUnavailable("auth", timeout=True) from error
        except requests.RequestException as error:
            raise PeerUnavailable("auth") from error
        except AuthlibOAuthError as error:  # a 200 carrying an error
            log.warning("token request refused: 200 %s", error.error)
            raise OAuthError(str(error.error or "invalid_request"), 200) from error

    @staticmethod
    def _tokens(token: dict[str, Any]) -> dict[str, Any]:
        return {
            "access_token": token["access_token"],
            "refresh_token": token.get("refresh_token"),
            "expires_at": time.time() + float(token.get("expires_in", 300)),
        }

    def exchange_code(self, code: str, verifier: str) -> dict[str, Any]:
        return self._tokens(self._call(lambda: self._session().fetch_token(
            f"{self.auth_url}/oauth/token", grant_type="authorization_code", code=code,
            code_verifier=verifier, headers=self._headers(), timeout=self.timeout)))

    def refresh(self, refresh_token: str) -> dict[str, Any]:
        token = self._call(lambda: self._session().refresh_token(
            f"{self.auth_url}/oauth/token", refresh_token=refresh_token, headers=self._headers(),
            timeout=self.timeout))
        return self._tokens(token)  # no refresh_token in the answer: Authlib keeps the one sent

    def revoke(self, refresh_token: str) -> None:
        """Best effort: the session is gone either way."""
        try:
            response = self._call(lambda: self._session().revoke_token(
                f"{self.auth_url}/oauth/revoke", token=refresh_token, token_type_hint=REFRESH_HINT,
                headers=self._headers(), timeout=self.timeout))
            if response.status_code != 200:
                log.warning("revocation answered %s", response.status_code)
        except PeerUnavailable:
            log.warning("auth unreachable: refresh token not revoked")


def _refused(response: requests.Response) -> requests.Response:
    """Authlib's hook before it reads a token answer: auth down (5xx) or a refused grant, in our terms."""
    if response.status_code == 200:
        return response
    if response.status_code >= 500:
        raise PeerUnavailable("auth")
    try:
        error = str(response.json().get("error", "invalid_request"))
    except ValueError:
        error = "invalid_request"
    log.warning("token request refused: %s %s", response.status_code, error)
    raise OAuthError(error, response.status_code)


def init_auth_client(app: Flask) -> None:
    app.extensions["ui_auth"] = AuthClient(app.config)


def auth_client() -> AuthClient:
    return current_app.extensions["ui_auth"]
