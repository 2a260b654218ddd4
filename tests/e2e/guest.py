"""What a guest does in the browser, step by step, saving a screenshot of each page."""

from __future__ import annotations

import re
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

from playwright.sync_api import Page, expect

from hotelbook_chassis.smtp_sink import body_text
from tests.e2e.a11y import assert_accessible

PASSWORD = "correct horse battery staple 42"
GOOD_CARD = "4242 4242 4242 4242"
DECLINED_CARD = "4000 0000 0000 0002"


def dates(days_ahead: int, nights: int = 2) -> tuple[str, str]:
    checkin = date.today() + timedelta(days=days_ahead)
    return checkin.isoformat(), (checkin + timedelta(days=nights)).isoformat()


class BrowserGuest:
    def __init__(self, page: Page, stack, label: str) -> None:
        self.page = page
        self.stack = stack
        self.label = label
        self.email = f"{label}-{uuid.uuid4().hex[:8]}@example.test"
        self.name = f"Guest {label.title()}"
        self.folder: Path = stack.screenshots
        self.password = PASSWORD

    def shot(self, name: str) -> None:
        """Screenshot the page and check it with axe: every page of the journey is both."""
        self.page.screenshot(path=str(self.folder / f"{self.label}-{name}.png"), full_page=True)
        assert_accessible(self.page, f"{self.label}-{name}")

    # --- account ------------------------------------------------------------------------------

    def sign_up(self) -> None:
        page = self.page
        page.goto("/")
        page.get_by_role("link", name="Sign up").click()
        page.get_by_label("Full name").fill(self.name)
        page.get_by_label("E-mail address").fill(self.email)
        page.get_by_label("Password", exact=True).fill(self.password)
        page.get_by_label("Repeat password").fill(self.password)
        self.shot("signup")
        page.get_by_role("button", name="Create account").click()
        expect(page.get_by_role("heading", name="Welcome to Hotelbook")).to_be_visible()
        self.shot("signup-done")

    def verify_email(self) -> None:
        self.page.goto(self.mailed_link("/verify-email"))
        self.shot("verify-email")
        self.page.get_by_role("button", name="Verify my e-mail address").click()
        expect(self.page.get_by_text("your e-mail address is verified")).to_be_visible()
        self.shot("verify-email-done")

    def mailed_link(self, page_path: str) -> str:
        """The newest link to ``page_path`` mailed to this guest."""
        deadline = time.monotonic() + 20
        pattern = re.compile(rf"https?://\S+{re.escape(page_path)}\?token=[^\s\"'<>]+")
        while time.monotonic() < deadline:
            for message in reversed(self.stack.mail.messages):
                if self.email.lower() in str(message["To"]).lower():
                    found = pattern.search(body_text(message))
                    if found:
                        return found.group(0)
            time.sleep(0.2)
        raise AssertionError(f"no mail to {self.email} with a {page_path} link")

    def reset_password(self, new_password: str) -> None:
        page = self.page
        page.goto("/")
        page.get_by_role("link", name="Forgot your password?").click()
        page.get_by_label("E-mail address").fill(self.email)
        self.shot("forgot-password")
        page.get_by_role("button", name="Send me a link").click()
        expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
        self.shot("forgot-password-sent")
        page.goto(self.mailed_link("/reset-password"))
        page.get_by_label("New password", exact=True).fill(new_password)
        page.get_by_label("Repeat new password").fill(new_password)
        self.shot("reset-password")
        page.get_by_role("button", name="Save new password").click()
        expect(page.get_by_role("heading", name="Password changed")).to_be_visible()
        self.shot("reset-password-done")
        self.password = new_password

    def log_in(self) -> None:
        page = self.page
        page.goto("/")
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Log in").click()
        # auth's own login page (through the gateway): fields named email and password.
        page.wait_for_url(re.compile(r"/oauth/authorize"))
        page.locator("input[name=email]").fill(self.email)
        page.locator("input[name=password]").fill(self.password)
        self.shot("auth-login")
        page.locator("input[name=password]").press("Enter")
        page.wait_for_url(lambda url: "/oauth/" not in url and "/auth/callback" not in url)
        expect(page.get_by_text(f"Hello, {self.name}")).to_be_visible()
        self.shot("logged-in")

    def on_auth_login_page(self, shot: str = "auth-login") -> None:
        """auth's login page, in the site's look (the shared theme's stylesheet applied), for Hotelbook."""
        page = self.page
        page.wait_for_url(re.compile(r"/oauth/authorize"))
        expect(page.get_by_role("heading", name="Log in", level=1)).to_be_visible()
        expect(page.get_by_text("to continue to Hotelbook")).to_be_visible()
        expect(page.locator(".site-header .brand")).to_contain_text("Hotelbook")
        assert page.locator("link[rel=stylesheet]").get_attribute("href") == "/oauth/theme/site.css"
        # The stylesheet really applied: the site's brand colour on the button and the card's frame.
        brand = page.evaluate("() => getComputedStyle(document.querySelector('button.button')).backgroundColor")
        assert brand == "rgb(11, 92, 173)", brand
        self.shot(shot)

    def log_in_here(self) -> None:
        """Fill auth's login form that is on the screen and send it."""
        page = self.page
        page.get_by_label("E-mail address").fill(self.email)
        page.get_by_label("Password", exact=True).fill(self.password)
        page.get_by_role("button", name="Log in", exact=True).click()
        page.wait_for_url(lambda url: "/oauth/" not in url and "/auth/callback" not in url)
        expect(page.get_by_text(f"Hello, {self.name}")).to_be_visible()

    def sign_up_and_log_in(self) -> None:
        self.sign_up()
        self.log_in()

    # --- search and booking ----------------------------------------------------------------------

    def search(self, city: str, checkin: str, checkout: str, guests: int = 2) -> None:
        page = self.page
        page.goto("/")
        self.shot("home")
        page.get_by_label("City").fill(city)
        page.get_by_label("Check-in").fill(checkin)
        page.get_by_label("Check-out").fill(checkout)
        page.get_by_label("Guests").fill(str(guests))
        page.get_by_role("button", name="Search").click()
        expect(page.get_by_role("heading", name=f"Hotels in {city}")).to_be_visible()
        self.shot("results")

    def open_hotel_from_results(self, hotel_name: str) -> None:
        """Page through the results until the hotel shows up, then open it."""
        page = self.page
        for _ in range(40):
            link = page.get_by_role("link", name=hotel_name, exact=True)
            if link.count():
                link.click()
                expect(page.get_by_role("heading", name=hotel_name, level=1)).to_be_visible()
                self.shot("hotel")
                return
            page.get_by_role("link", name="Next page").click()
        raise AssertionError(f"{hotel_name} not found in the results")

    def reserve(self, room_name: str = "Double") -> None:
        self.page.get_by_role("button", name=f"Reserve {room_name}").click()

    def pay(self, card: str) -> None:
        page = self.page
        expect(page.get_by_role("heading", name="Pay for your room")).to_be_visible()
        expect(page.get_by_role("timer")).to_contain_text("left")
        self.shot("hold")
        page.get_by_label("Name on card").fill(self.name)
        page.get_by_label("Card number").fill(card)
        page.get_by_label("Expiry date (MM/YY)").fill(f"12/{(date.today().year + 2) % 100:02d}")
        page.get_by_label("Security code (CVC)").fill("123")
        page.get_by_role("button", name=re.compile(r"^Pay ")).click()

    def wait_confirmed(self, timeout: float = 30) -> None:
        page = self.page
        deadline = time.monotonic() + timeout
        heading = page.get_by_role("heading", name="Your reservation is confirmed")
        while not heading.count():
            assert time.monotonic() < deadline, page.content()[:2000]
            time.sleep(0.5)
            page.reload()
        self.shot("confirmed")
