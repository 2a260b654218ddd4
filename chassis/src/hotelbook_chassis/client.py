"""Outbound HTTP to peer services: timeouts, safe retries, service tokens, request ids, trace context.

Every call has a connect and a read timeout. Calls are retried on connection
failures (nothing was sent), and on read errors or 502/503/504 only when the
call is idempotent: GET/HEAD/PUT/DELETE, or a POST carrying an Idempotency-Key.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from flask import has_request_context, request
from prometheus_client import Counter
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from hotelbook_chassis.observability import REQUEST_ID_HEADER, current_request_id
from hotelbook_chassis.problems import Problem
from hotelbook_chassis.tracing import TRACEPARENT, current_traceparent, instrumentation_suppressed, tracing_enabled

OUTBOUND = Counter("outbound_requests_total", "Calls to peer services", ["peer", "method", "outcome"])
TOKEN_FETCHES = Counter("service_token_fetches_total", "client_credentials tokens fetched", ["client_id"])
log = logging.getLogger("hotelbook.client")


class PeerUnavailable(Problem):
    """A peer did not answer in time or at all: 503 (or 504 on timeout)."""

    def __init__(self, peer: str, *, timeout: bool = False) -> None:
        super().__init__(
            504 if timeout else 503,
            f"The {peer} service did not answer{' in time' if timeout else ''}; please try again shortly.",
            type="peer-unavailable",
            peer=peer,
        )
        self.peer = peer


@dataclass
class PeerError(Exception):
    """A peer answered with an error: its status and the problem document's parts a caller can show."""

    peer: str
    status: int
    detail: str = ""
    type: str = "about:blank"
    invalid_params: list[dict[str, str]] = field(default_factory=list)
    body: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.peer} answered {self.status}: {self.detail}"

    def reason_for(self, name: str) -> str | None:
        for param in self.invalid_params:
            if param.get("name") == name or str(param.get("name", "")).endswith(f".{name}"):
                return param.get("reason")
        return None


def expect(response: requests.Response, peer: str, *ok: int) -> Any:
    """The JSON body when the status is one of ``ok``; else :class:`PeerError`."""
    if response.status_code in (ok or (200,)):
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as error:
            raise PeerError(peer, 502, "The answer could not be read.") from error
    try:
        body = response.json()
        if not isinstance(body, dict):
            body = {}
    except ValueError:
        body = {}
    if response.status_code >= 500:
        log.warning("%s answered %s", peer, response.status_code)
    raise PeerError(
        peer,
        response.status_code,
        str(body.get("detail") or body.get("error_description") or ""),
        str(body.get("type") or "about:blank"),
        list(body.get("invalid_params") or []),
        body,
    )


def _session(retry: Retry, pool: int = 20, trust_env: bool = True) -> requests.Session:
    session = requests.Session()
    session.trust_env = trust_env
    adapter = HTTPAdapter(max_retries=retry, pool_connections=pool, pool_maxsize=pool)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class ClientCredentials:
    """A service token from auth (client_credentials grant), cached until shortly before it expires.

    The token request goes through Authlib's OAuth2 client (client_secret_basic, the grant body,
    token parsing). One instance is shared by every thread of a worker: ``token()`` holds a lock,
    and each fetch uses a fresh ``OAuth2Session`` (Authlib keeps the last token on the session),
    all of them on one retrying connection pool.
    """

    AUTH_METHOD = "client_secret_basic"  # what auth accepts from a confidential client, server to server

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        scope: str,
        *,
        margin_seconds: float = 30,
        timeout: tuple[float, float] = (2, 5),
    ) -> None:
        self.token_url = token_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.scope = scope
        self.margin = margin_seconds
        self.timeout = timeout
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0
        # Token requests are safe to retry: a duplicate only mints another token.
        self._adapter = HTTPAdapter(max_retries=Retry(total=2, backoff_factor=0.2, status_forcelist=(502, 503, 504),
                                                      allowed_methods=None), pool_connections=2, pool_maxsize=2)

    def token(self) -> str:
        with self._lock:
            if self._token is None or time.monotonic() >= self._expires_at:
                self._fetch()
            assert self._token is not None
            return self._token

    def invalidate(self) -> None:
        with self._lock:
            self._token = None

    def _session(self) -> OAuth2Session:
        oauth = OAuth2Session(self.client_id, self.client_secret, token_endpoint_auth_method=self.AUTH_METHOD,
                              scope=self.scope)
        oauth.mount("http://", self._adapter)
        oauth.mount("https://", self._adapter)
        oauth.register_compliance_hook("access_token_response", _token_refused)
        return oauth

    def _fetch(self) -> None:
        TOKEN_FETCHES.labels(self.client_id).inc()
        try:
            body = self._session().fetch_token(self.token_url, grant_type="client_credentials", timeout=self.timeout)
        except requests.Timeout as error:
            raise PeerUnavailable("auth", timeout=True) from error
        except requests.RequestException as error:
            raise PeerUnavailable("auth") from error
        except (OAuthError, ValueError) as error:  # a 200 carrying an error, or no JSON object
            log.error("token request refused: 200 %s", error)
            raise PeerUnavailable("auth") from error
        if not body.get("access_token"):
            log.error("token answer without an access_token")
            raise PeerUnavailable("auth")
        self._token = str(body["access_token"])
        lifetime = float(body.get("expires_in", 300))
        self._expires_at = time.monotonic() + max(lifetime - self.margin, lifetime / 2)


def _token_refused(response: requests.Response) -> requests.Response:
    """Authlib's hook before it reads a token answer: anything but a 200 means no token from auth."""
    if response.status_code != 200:
        log.error("token request refused: %s %s", response.status_code, response.text[:200])
        raise PeerUnavailable("auth")
    return response


def service_credentials(config: Any, scope: str) -> ClientCredentials | None:
    """The service's own client_credentials token source, from ``CLIENT_ID``/``CLIENT_SECRET``.

    None when the service has no client registered (a test, or a service run alone):
    its calls then go out without a token and the peer answers 401.
    """
    if not (config.get("CLIENT_ID") and config.get("CLIENT_SECRET")):
        return None
    return ClientCredentials(f"{config['AUTH_URL']}/oauth/token", config["CLIENT_ID"], config["CLIENT_SECRET"],
                             scope)


class ServiceClient:
    """A peer service reached over HTTP with JSON."""

    IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})

    def __init__(
        self,
        name: str,
        base_url: str,
        *,
        tokens: ClientCredentials | None = None,
        connect_timeout: float = 2.0,
        read_timeout: float = 5.0,
        retries: int = 2,
        backoff: float = 0.2,
        trust_env: bool = False,
    ) -> None:
        """A peer inside the deployment is reached directly: requests skips looking for proxy,
        netrc and CA-bundle settings in the environment on every call (a measurable share of a
        small call's CPU). ``trust_env=True`` for a party outside it, such as the bank.
        """
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.tokens = tokens
        self.timeout = (connect_timeout, read_timeout)
        safe = Retry(total=retries, connect=retries, read=retries, status=retries, backoff_factor=backoff,
                     status_forcelist=(502, 503, 504), allowed_methods=None, raise_on_status=False)
        # Non-idempotent calls retry only when the connection was never made.
        unsafe = Retry(total=retries, connect=retries, read=0, status=0, other=0, backoff_factor=backoff,
                       allowed_methods=None, raise_on_status=False)
        self._safe = _session(safe, trust_env=trust_env)
        self._unsafe = _session(unsafe, trust_env=trust_env)

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        idempotency_key: str | None = None,
        bearer: str | None = None,
        timeout: tuple[float, float] | None = None,
    ) -> requests.Response:
        """Send one call; raise :class:`PeerUnavailable` when the peer cannot be reached."""
        method = method.upper()
        sent_headers = dict(headers or {})
        request_id = current_request_id()
        if request_id:
            sent_headers[REQUEST_ID_HEADER] = request_id
        if not tracing_enabled() or instrumentation_suppressed():
            # No spans here: pass the trace context on as it came (with tracing on, in a
            # sampled request, the requests instrumentation writes this call's own span).
            traceparent = current_traceparent()
            if traceparent:
                sent_headers[TRACEPARENT] = traceparent
        if idempotency_key:
            sent_headers["Idempotency-Key"] = idempotency_key
        idempotent = method in self.IDEMPOTENT or bool(idempotency_key)
        session = self._safe if idempotent else self._unsafe
        for attempt in (1, 2):
            token = bearer or (self.tokens.token() if self.tokens else None)
            if token:
                sent_headers["Authorization"] = f"Bearer {token}"
            try:
                response = session.request(
                    method, f"{self.base_url}{path}", json=json, params=params,
                    headers=sent_headers, timeout=timeout or self.timeout,
                )
            except requests.Timeout as error:
                OUTBOUND.labels(self.name, method, "timeout").inc()
                raise PeerUnavailable(self.name, timeout=True) from error
            except requests.RequestException as error:
                OUTBOUND.labels(self.name, method, "unreachable").inc()
                raise PeerUnavailable(self.name) from error
            # A service token may have been revoked or signed by a retired key:
            # fetch a fresh one once.
            if response.status_code == 401 and attempt == 1 and self.tokens and not bearer:
                self.tokens.invalidate()
                continue
            break
        OUTBOUND.labels(self.name, method, str(response.status_code)).inc()
        return response

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)


def forwarded_bearer() -> str | None:
    """The caller's own bearer token, to act for the same guest downstream."""
    if not has_request_context():
        return None
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None
