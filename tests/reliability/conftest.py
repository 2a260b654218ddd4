from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.journey import Guest


def logged_in_guests(stack, count: int) -> list[Guest]:
    client = stack.layout.client_credentials("booking-ui")
    token = stack.token("booking-ui", "users:create")

    def make(_: int) -> Guest:
        guest = Guest(stack.gateway_url, client)
        guest.sign_up(token)
        guest.log_in()
        return guest

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(make, range(count)))


@pytest.fixture(scope="module")
def guests(stack):
    return logged_in_guests(stack, 24)
