"""Browser fixtures: headless Chromium (the system's) driven by Playwright, one context per guest."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hotelbook_chassis.testing import require_or_skip

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    require_or_skip(Path(CHROMIUM).exists(), "chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser, stack) -> Iterator[Callable[[], object]]:
    """``new_page()`` -> a page in a fresh browser context (its own cookies: another guest)."""
    contexts = []

    def make():
        context = browser.new_context(base_url=stack.gateway_url, accept_downloads=True,
                                      viewport={"width": 1280, "height": 900})
        context.set_default_timeout(20_000)
        contexts.append(context)
        page = context.new_page()
        page.on("dialog", lambda dialog: dialog.accept())  # "Cancel this reservation?"
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    return new_page()
