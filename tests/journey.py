"""The booking journey at the API level, through the gateway: what a guest's browser
and the booking UI do, as plain HTTP calls. Shared by the integration, reliability
and load suites."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
import uuid
from datetime import date, timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlparse

import requests

STRONG_PASSWORD = "correct horse battery staple 42"
GOOD_CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": date.today().year + 2, "cvc": "123",
             "holder": "Zoë Ñúñez"}


class _FormFields(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}
        self.action: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "form" and self.action is None:
            self.action = values.get("action")
        if tag == "input" and values.get("name"):
            self.fields[values["name"]] = values.get("value") or ""


def form_fields(html: str) -> tuple[str | None, dict[str, str]]:
    parser = _FormFields()
    parser.feed(html)
    return parser.action, parser.fields


def stay(days_ahead: int = 30, nights: int = 2) -> tuple[str, str]:
    checkin = date.today() + timedelta(days=days_ahead)
    return checkin.isoformat(), (checkin + timedelta(days=nights)).isoformat()


class Guest:
    """A guest with an account and a guest token, talking to the gateway."""

    everyone: list[Guest] = []  # every guest of the test session, for the money check

    def __init__(self, gateway: str, ui_client: dict[str, str], *, email: str | None = None,
                 name: str = "Zoë Ñúñez", http: requests.Session | None = None) -> None:
        self.gateway = gateway.rstrip("/")
        self.ui_client = ui_client
        self.email = email or f"guest-{uuid.uuid4().hex[:10]}@example.test"
        self.name = name
        self.http = http or requests.Session()
        self.token: str | None = None
        self.user_id: str | None = None
        Guest.everyone.append(self)

    # --- account ----------------------------------------------------------------

    def sign_up(self, service_token: str) -> dict[str, Any]:
        response = self.http.post(f"{self.gateway}/api/users/users",
                                  json={"email": self.email, "name": self.name, "password": STRONG_PASSWORD},
                                  headers={"Authorization": f"Bearer {service_token}"}, timeout=15)
        # The same 202 whether the address is new or taken (users mails the owner instead).
        assert response.status_code == 202, response.text
        return response.json()

    def log_in(self, password: str = STRONG_PASSWORD) -> str:
        """The authorization-code + PKCE flow, as the booking UI and the browser do it."""
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        state = secrets.token_urlsafe(16)
        redirect_uri = f"{self.gateway}/auth/callback"
        params = {"response_type": "code", "client_id": self.ui_client["client_id"], "redirect_uri": redirect_uri,
                  "scope": "guest", "state": state, "code_challenge": challenge, "code_challenge_method": "S256"}
        page = self.http.get(f"{self.gateway}/oauth/authorize", params=params, timeout=15)
        assert page.status_code == 200, page.text
        action, fields = form_fields(page.text)
        fields.update(email=self.email, password=password)
        target = requests.compat.urljoin(page.url, action or page.url)
        answer = self.http.post(target, data=fields, allow_redirects=False, timeout=15)
        assert answer.status_code in (302, 303), answer.text[:500]
        location = urlparse(answer.headers["Location"])
        query = parse_qs(location.query)
        assert query["state"] == [state]
        tokens = self.http.post(f"{self.gateway}/oauth/token", data={
            "grant_type": "authorization_code", "code": query["code"][0], "redirect_uri": redirect_uri,
            "code_verifier": verifier,
        }, auth=(self.ui_client["client_id"], self.ui_client["client_secret"]), timeout=15)
        assert tokens.status_code == 200, tokens.text
        self.token = tokens.json()["access_token"]
        payload = self.token.split(".")[1]
        self.user_id = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sub"]
        self.refresh_token = tokens.json().get("refresh_token")
        self.logged_in_at = time.monotonic()
        return self.token

    @property
    def headers(self) -> dict[str, str]:
        """The guest token, logging in again before it expires (as the UI refreshes it)."""
        if self.token and time.monotonic() - self.logged_in_at > 150:
            self.log_in()
        return {"Authorization": f"Bearer {self.token}"}

    # --- booking ----------------------------------------------------------------

    def search(self, city: str, checkin: str, checkout: str, guests: int = 2) -> requests.Response:
        return self.http.get(f"{self.gateway}/api/search/hotels",
                             params={"city": city, "checkin": checkin, "checkout": checkout, "guests": guests},
                             timeout=15)

    def hold(self, hotel_id: str, room_type_id: str, checkin: str, checkout: str, guests: int = 2
             ) -> requests.Response:
        return self.http.post(f"{self.gateway}/api/reservations/reservations", json={
            "hotel_id": hotel_id, "room_type_id": room_type_id, "checkin": checkin, "checkout": checkout,
            "guests": guests}, headers=self.headers, timeout=15)

    def pay(self, reservation_id: str, card: dict[str, Any] | None = None, key: str | None = None
            ) -> requests.Response:
        return self.http.post(f"{self.gateway}/api/payments/payments",
                              json={"reservation_id": reservation_id, "card": card or GOOD_CARD},
                              headers={**self.headers, "Idempotency-Key": key or uuid.uuid4().hex}, timeout=40)

    def reservation(self, reservation_id: str) -> requests.Response:
        return self.http.get(f"{self.gateway}/api/reservations/reservations/{reservation_id}",
                             headers=self.headers, timeout=15)

    def cancel(self, reservation_id: str) -> requests.Response:
        return self.http.post(f"{self.gateway}/api/reservations/reservations/{reservation_id}/cancel",
                              headers=self.headers, timeout=15)

    def receipt(self, reservation_id: str) -> requests.Response:
        return self.http.get(f"{self.gateway}/api/reservations/reservations/{reservation_id}/receipt.pdf",
                             headers=self.headers, timeout=30)
