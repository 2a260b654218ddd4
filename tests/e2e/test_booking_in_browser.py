"""A guest's whole visit in a real browser, through the gateway and every real service."""

from __future__ import annotations

import io
import re

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

from tests.e2e.a11y import assert_accessible
from tests.e2e.guest import DECLINED_CARD, GOOD_CARD, BrowserGuest, dates


def test_sign_up_verify_log_in_book_pay_receipt_cancel(stack, page):
    hotel = stack.create_hotel(city="Zürich", rooms=2, nightly_price=12000, name="Hotel Edelweiss E2E")
    guest = BrowserGuest(page, stack, "journey")
    guest.sign_up()
    guest.verify_email()
    guest.log_in()

    checkin, checkout = dates(60)
    guest.search("Zürich", checkin, checkout)
    guest.open_hotel_from_results(hotel["name"])
    expect(page.get_by_text("€240.00").first).to_be_visible()  # 2 nights x €120
    guest.reserve()
    guest.pay(GOOD_CARD)
    guest.wait_confirmed()

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download receipt (PDF)").click()
    pdf = download_info.value.path().read_bytes()
    assert pdf.startswith(b"%PDF")
    text = " ".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(pdf)).pages)
    text = re.sub(r"\s+", " ", text)
    assert hotel["name"] in text
    # A Swiss hotel: 3.8 % VAT in the 240.00 EUR paid, 24000 * 3.8 / 103.8 = 878.6 -> 8.79 EUR.
    assert re.search(r"Receipt number HB-[0-9A-F]{8}-[0-9A-F]{8}", text), text
    assert "Includes VAT 3.8 %: 8.79 EUR" in text, text

    page.get_by_role("navigation", name="Main").get_by_role("link", name="My reservations").click()
    row = page.get_by_role("row").filter(has_text=hotel["name"])
    expect(row).to_contain_text("Confirmed")
    guest.shot("my-reservations")
    row.get_by_role("button", name=f"Cancel reservation at {hotel['name']}").click()
    expect(page.get_by_role("status").filter(has_text="Your reservation is cancelled")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text=hotel["name"])).to_contain_text("Cancelled")
    guest.shot("cancelled")

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_text("You are logged out")).to_be_visible()
    guest.shot("logged-out")


def test_declined_card_is_explained_and_another_card_works(stack, page):
    hotel = stack.create_hotel(city="Zürich", rooms=1, nightly_price=9000, name="Hotel Bergblick E2E")
    guest = BrowserGuest(page, stack, "declined")
    guest.sign_up_and_log_in()
    checkin, checkout = dates(70)
    page.goto(f"/hotels/{hotel['id']}?checkin={checkin}&checkout={checkout}&guests=2")
    guest.reserve()
    guest.pay(DECLINED_CARD)
    expect(page.get_by_role("alert").filter(has_text="Your card was declined")).to_be_visible()
    guest.shot("declined")
    guest.pay(GOOD_CARD)  # the hold is still there: a good card books it
    guest.wait_confirmed()


def test_room_taken_by_someone_else_meanwhile(stack, new_page):
    hotel = stack.create_hotel(city="Zürich", rooms=1, nightly_price=15000, name="Hotel Letztes Zimmer E2E")
    checkin, checkout = dates(80)
    hotel_path = f"/hotels/{hotel['id']}?checkin={checkin}&checkout={checkout}&guests=2"

    slow = BrowserGuest(new_page(), stack, "slow")
    slow.sign_up_and_log_in()
    slow.page.goto(hotel_path)
    expect(slow.page.get_by_role("button", name="Reserve Double")).to_be_visible()

    quick = BrowserGuest(new_page(), stack, "quick")
    quick.sign_up_and_log_in()
    quick.page.goto(hotel_path)
    quick.reserve()
    expect(quick.page.get_by_role("heading", name="Pay for your room")).to_be_visible()
    quick.shot("took-the-last-room")

    slow.reserve()  # the page was loaded before the last room went
    expect(slow.page.get_by_role("alert").filter(has_text="that room was just taken")).to_be_visible()
    slow.shot("room-taken")


def test_search_still_works_while_reservations_is_down(stack, page):
    hotel = stack.create_hotel(city="Zürich", rooms=1, nightly_price=11000, name="Hotel Ohne Buchung E2E")
    guest = BrowserGuest(page, stack, "degraded")
    guest.sign_up_and_log_in()
    checkin, checkout = dates(90)
    stack.stop("reservations")
    try:
        guest.search("Zürich", checkin, checkout)
        expect(page.get_by_role("alert")).to_have_count(0)
        guest.open_hotel_from_results(hotel["name"])
        guest.reserve()
        expect(page.get_by_role("alert").filter(has_text="Reservations are not available right now")).to_be_visible()
        guest.shot("reserve-while-down")
        page.goto("/reservations")
        expect(page.get_by_role("alert").filter(has_text="Reservations are not available right now")).to_be_visible()
        guest.shot("my-reservations-while-down")
    finally:
        stack.start("reservations")
    page.goto("/reservations")
    expect(page.get_by_role("heading", name="My reservations")).to_be_visible()
    expect(page.get_by_role("alert")).to_have_count(0)


@pytest.mark.parametrize("path", ["/no-such-page", "/hotels/00000000-0000-4000-8000-000000000000"])
def test_missing_pages_are_friendly(stack, page, path):
    page.goto(path)
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    expect(page.get_by_role("link", name="Skip to main content")).to_be_attached()
    assert_accessible(page, f"error page {path}")


def test_keyboard_only_guest_can_skip_to_the_form_and_search(stack, page):
    page.goto("/")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to main content")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_label("City")).to_be_focused()
    page.keyboard.type("Zürich")
    page.keyboard.press("Enter")  # dates and guests come prefilled
    expect(page.get_by_role("heading", name="Hotels in Zürich")).to_be_visible()
    page.screenshot(path=str(stack.screenshots / "keyboard-results.png"), full_page=True)
    assert_accessible(page, "keyboard results")


def test_forgotten_password_is_reset_from_the_mailed_link(stack, page):
    guest = BrowserGuest(page, stack, "reset")
    guest.sign_up()
    guest.reset_password("a brand new passphrase for 2027")
    guest.log_in()  # with the new password


def test_phone_layout_shows_results_first_and_every_page_is_accessible(stack, browser):
    hotel = stack.create_hotel(city="Zürich", rooms=1, nightly_price=10000, name="Hotel Handy E2E")
    context = browser.new_context(base_url=stack.gateway_url, viewport={"width": 390, "height": 844},
                                  is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        guest = BrowserGuest(page, stack, "phone")
        checkin, checkout = dates(100)
        guest.search("zürich", checkin, checkout)  # heading: the catalogue's spelling
        filters = page.locator("details.filters-disclosure")
        expect(filters).not_to_have_attribute("open", "")  # closed: the results come first
        first_result = page.get_by_role("list", name="Search results").get_by_role("listitem").first
        assert first_result.bounding_box()["y"] < 844 * 2, "results should start within two screens"
        page.get_by_text("Filter and sort").click()
        expect(page.get_by_label("Minimum stars")).to_be_visible()
        guest.shot("results-filters-open")
        page.goto(f"/hotels/{hotel['id']}?checkin={checkin}&checkout={checkout}&guests=2")
        guest.shot("hotel")
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Log in").click()
        page.wait_for_url(re.compile(r"/oauth/authorize"))
        guest.shot("auth-login")
    finally:
        context.close()


# --- from Hotelbook's login page to sign-up, password reset or back, and on to the hotel -------------


def _hotel_page_then_log_in(stack, page, guest, name):
    hotel = stack.create_hotel(city="Zürich", rooms=1, nightly_price=11000, name=name)
    checkin, checkout = dates(110)
    here = f"/hotels/{hotel['id']}?checkin={checkin}&checkout={checkout}&guests=2"
    page.goto(here)
    expect(page.get_by_role("heading", name=hotel["name"], level=1)).to_be_visible()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Log in").click()
    guest.on_auth_login_page()
    return hotel, here


def _back_on(page, hotel, here):
    expect(page.get_by_role("heading", name=hotel["name"], level=1)).to_be_visible()
    assert page.url.endswith(here), page.url


def test_a_new_guest_goes_from_the_login_page_to_sign_up_and_back_to_the_hotel(stack, page):
    guest = BrowserGuest(page, stack, "login-signup")
    hotel, here = _hotel_page_then_log_in(stack, page, guest, "Hotel Anmeldung E2E")
    page.get_by_role("link", name="Create an account").click()
    page.get_by_label("Full name").fill(guest.name)
    page.get_by_label("E-mail address").fill(guest.email)
    page.get_by_label("Password", exact=True).fill(guest.password)
    page.get_by_label("Repeat password").fill(guest.password)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Welcome to Hotelbook")).to_be_visible()
    page.get_by_role("main").get_by_role("link", name="Log in").click()
    guest.on_auth_login_page("auth-login-after-signup")
    guest.log_in_here()
    _back_on(page, hotel, here)
    guest.shot("back-at-the-hotel")


def test_a_guest_who_forgot_the_password_resets_it_from_the_login_page_and_gets_back_to_the_hotel(stack, page):
    guest = BrowserGuest(page, stack, "login-reset")
    guest.sign_up()
    hotel, here = _hotel_page_then_log_in(stack, page, guest, "Hotel Vergesslich E2E")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("E-mail address").fill(guest.email)
    page.get_by_role("button", name="Send me a link").click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    page.goto(guest.mailed_link("/reset-password"))  # the link in the e-mail, as the guest opens it
    guest.password = "another fresh passphrase 2027"
    page.get_by_label("New password", exact=True).fill(guest.password)
    page.get_by_label("Repeat new password").fill(guest.password)
    page.get_by_role("button", name="Save new password").click()
    expect(page.get_by_role("heading", name="Password changed")).to_be_visible()
    page.get_by_role("main").get_by_role("link", name="Log in").click()
    guest.on_auth_login_page("auth-login-after-reset")
    guest.log_in_here()
    _back_on(page, hotel, here)


def test_back_to_hotelbook_from_the_login_page_returns_to_the_hotel(stack, page):
    guest = BrowserGuest(page, stack, "login-back")
    hotel, here = _hotel_page_then_log_in(stack, page, guest, "Hotel Zurueck E2E")
    page.get_by_role("button", name="Back to Hotelbook without logging in").click()
    _back_on(page, hotel, here)
    expect(page.get_by_role("status").filter(has_text="You did not log in")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Log in")).to_be_visible()
    guest.shot("back-without-logging-in")


def test_the_login_page_explains_a_wrong_password_in_the_site_look(stack, page):
    guest = BrowserGuest(page, stack, "login-wrong")
    guest.sign_up()
    page.goto("/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Log in").click()
    guest.on_auth_login_page()
    page.get_by_label("E-mail address").fill(guest.email)
    page.get_by_label("Password", exact=True).fill("not the password at all")
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("e-mail address or password is incorrect")
    guest.on_auth_login_page("auth-login-error")
