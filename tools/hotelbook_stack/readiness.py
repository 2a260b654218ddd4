"""Waiting for the system to answer, and the demo guest account."""

from __future__ import annotations

import contextlib
import time

import requests

from hotelbook_stack.layout import Layout


def wait_ready(layout: Layout, names: list[str] | None = None, timeout: float = 90) -> dict[str, bool]:
    """Poll every ``/readyz`` until all answer 200 or ``timeout``; returns who is ready.

    Names are processes: a service, or one of its instances (``search.2``); by default
    every process, each instance asked on its own port.
    """
    names = names or [name for name, _service in layout.processes]
    ready = dict.fromkeys(names, False)
    deadline = time.monotonic() + timeout
    with requests.Session() as session:
        while not all(ready.values()) and time.monotonic() < deadline:
            for name in [n for n, ok in ready.items() if not ok]:
                with contextlib.suppress(requests.RequestException):
                    ready[name] = session.get(f"{layout.url(name)}/readyz", timeout=2).status_code == 200
            if not all(ready.values()):
                time.sleep(0.3)
    return ready


def service_token(layout: Layout, client: str, scope: str) -> str:
    credentials = layout.client_credentials(client)
    response = requests.post(
        f"{layout.url('auth')}/oauth/token",
        data={"grant_type": "client_credentials", "scope": scope},
        auth=(credentials["client_id"], credentials["client_secret"]),
        timeout=10,
    )
    response.raise_for_status()
    return response.json()["access_token"]


def ensure_demo_guest(layout: Layout) -> dict[str, str]:
    """A guest account to try the system with; its password is generated once into ``var/``."""
    from hotelbook_chassis.config import dev_secret

    email = "demo@hotelbook.test"
    password = dev_secret("demo-guest-password")
    token = service_token(layout, "booking-ui", "users:create")
    response = requests.post(
        f"{layout.url('users')}/users",
        json={"email": email, "name": "Demo Guest", "password": password},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    if response.status_code not in (201, 409):
        response.raise_for_status()
    return {"email": email, "password": password}
