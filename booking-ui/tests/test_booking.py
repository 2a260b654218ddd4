import json
import time

import pytest
import responses
from conftest import HOTEL_ID, PAYMENTS, RESERVATIONS, ROOM_ID, SEARCH, form_bodies, hotel, log_in, reservation

DATES = {"checkin": "2030-03-01", "checkout": "2030-03-03", "guests": "2"}
PDF = b"%PDF-1.7\n% a receipt\n%%EOF\n"


@pytest.fixture
def guest(client, fake):
    log_in(client, fake, access="guest-access")
    fake.get(f"{SEARCH}/hotels/{HOTEL_ID}", json=hotel())
    return client


def reserve_form(client):
    page = client.get(f"/hotels/{HOTEL_ID}", params=DATES)
    return next(f for f in page.forms.values() if f.action == "/reservations")


def pay_form(client, held, **fields):
    page = client.get(f"/reservations/{held['id']}")
    form = next(f for f in page.forms.values() if f.action.endswith("/pay"))
    values = {"holder": "Ada Lovelace", "card_number": "4242 4242 4242 4242", "expiry": "12/35", "cvc": "123",
              **fields}
    for name, value in values.items():
        form[name] = value
    return page, form


def test_reserving_without_login_goes_to_login_and_back(client, fake):
    fake.get(f"{SEARCH}/hotels/{HOTEL_ID}", json=hotel())
    form = reserve_form(client)
    response = form.submit(status=302, headers={"Referer": f"http://localhost:80/hotels/{HOTEL_ID}?guests=2"})
    assert response.headers["Location"].endswith(f"/login?next=/hotels/{HOTEL_ID}?guests%3D2")
    assert not form_bodies(fake, "POST", f"{RESERVATIONS}/reservations")


def test_hold_posts_the_stay_with_the_guest_token(guest, fake):
    held = reservation()
    fake.post(f"{RESERVATIONS}/reservations", status=201, json=held)
    fake.get(f"{RESERVATIONS}/reservations/{held['id']}", json=held)
    response = reserve_form(guest).submit(status=302)
    assert response.headers["Location"].endswith(f"/reservations/{held['id']}")
    sent = form_bodies(fake, "POST", f"{RESERVATIONS}/reservations")[0]
    assert sent.headers["Authorization"] == "Bearer guest-access"
    assert json.loads(sent.body) == {"hotel_id": HOTEL_ID, "room_type_id": ROOM_ID, "checkin": "2030-03-01",
                                     "checkout": "2030-03-03", "guests": 2}
    page = response.follow()
    assert "Pay for your room" in page.text and "We hold this room for you until" in page.text
    assert 'data-expires="' + held["hold_expires_at"] + '"' in page.text
    assert "4242 4242 4242 4242 is accepted" in page.text and "Hotel Bellevue" in page.text
    assert "€240.00" in page.text


def test_hold_when_the_room_was_just_taken(guest, fake):
    fake.post(f"{RESERVATIONS}/reservations", status=409, json={"status": 409, "title": "Conflict"})
    page = reserve_form(guest).submit(status=302).follow()
    assert "that room was just taken" in page.text and "Hotel Bellevue" in page.text


def test_hold_when_reservations_is_down_and_search_still_works(guest, fake):
    fake.post(f"{RESERVATIONS}/reservations", body=responses.ConnectionError("down"))
    page = reserve_form(guest).submit(status=302).follow()
    assert "Reservations are not available right now" in page.text
    fake.get(f"{SEARCH}/hotels", json={"items": [{"id": HOTEL_ID, "name": "Hotel Bellevue", "city": "Zürich",
                                                  "country": "CH", "stars": 4}], "next_token": None})
    assert "Hotel Bellevue" in guest.get("/hotels", params={"city": "Zürich", **DATES}).text


def test_pay_ok_sends_card_and_idempotency_key_then_confirmation(guest, fake):
    held = reservation()
    fake.get(f"{RESERVATIONS}/reservations/{held['id']}", json=held)
    fake.post(f"{PAYMENTS}/payments", status=201, json={"id": "p1", "status": "succeeded",
                                                        "card": {"brand": "visa", "last4": "4242"}})
    _, form = pay_form(guest, held)
    key = form["idempotency_key"].value
    assert len(key) == 36
    response = form.submit(status=302)
    assert response.headers["Location"].endswith(f"/reservations/{held['id']}?paid=1")
    sent = form_bodies(fake, "POST", f"{PAYMENTS}/payments")[0]
    assert sent.headers["Idempotency-Key"] == key and sent.headers["Authorization"] == "Bearer guest-access"
    body = json.loads(sent.body)
    assert body["reservation_id"] == held["id"]
    assert body["card"]["number"] == "4242424242424242" and body["card"]["exp_month"] == 12
    fake.replace(responses.GET, f"{RESERVATIONS}/reservations/{held['id']}",
                 json={**held, "status": "confirmed", "payment_id": "p1"})
    confirmed = response.follow()
    assert "Your reservation is confirmed" in confirmed.text
    assert f"/reservations/{held['id']}/receipt.pdf" in confirmed.text


def test_double_submit_reuses_the_same_idempotency_key(guest, fake):
    held = reservation()
    fake.get(f"{RESERVATIONS}/reservations/{held['id']}", json=held)
    fake.post(f"{PAYMENTS}/payments", status=201, json={"id": "p1", "status": "succeeded"})
    _, form = pay_form(guest, held)
    form.submit(status=302)
    form.submit(status=302)  # the same rendered form sent twice (double click, back button)
    keys = {r.headers["Idempotency-Key"] for r in form_bodies(fake, "POST", f"{PAYMENTS}/payments")}
    assert len(keys) == 1
    _, fresh = pay_form(guest, held)
    assert fresh["idempotency_key"].value not in keys  # a new render is a new attempt


def test_declined_card_is_shown_and_a_new_key_offered(guest, fake):
    held = reservation()
    fake.get(f"{RESERVATIONS}/reservations/{held['id']}", json=held)
    fake.post(f"{PAYMENTS}/payments", status=402, json={"status": 402, "title": "Payment Required",
                                                        "detail": "card_declined"})
    _, form = pay_form(guest, held, card_number="4000 0000 0000 0002")
    page = form.submit(status=402)
    assert "Your card was declined" in page.text
    retry = next(f for f in page.forms.values() if f.action.endswith("/pay"))
    assert retry["idempotency_key"].value != form["idempotency_key"].value
    assert retry["card_number"].value == ""  # card numbers are never echoed back


def test_pay_conflict_when_the_hold_is_gone(guest, fake):
    held = reservation()
    fake.get(f"{RESERVATIONS}/reservations/{held['id']}", json=held)
    fake.post(f"{PAYMENTS}/payments", status=409, json={"status": 409, "title": "Conflict"})
    _, form = pay_form(guest, held)
    assert "can no longer be paid" in form.submit(status=409).text


def test_payments_down_keeps_the_same_key_for_a_safe_retry(guest, fake):
    held = reservation()
    fake.get(f"{RESERVATIONS}/reservations/{held['id']}", json=held)
    fake.post(f"{PAYMENTS}/payments", body=responses.ConnectionError("down"))
    _, form = pay_form(guest, held)
    page = form.submit(status=503)
    assert "Payments are not answering right now" in page.text
    retry = next(f for f in page.forms.values() if f.action.endswith("/pay"))
    assert retry["idempotency_key"].value == form["idempotency_key"].value


def test_bad_card_is_caught_before_payments(guest, fake):
    held = reservation()
    fake.get(f"{RESERVATIONS}/reservations/{held['id']}", json=held)
    _, form = pay_form(guest, held, card_number="1234 5678", cvc="")
    page = form.submit(status=400)
    assert "Enter a valid card number" in page.text and "security code" in page.text
    assert not form_bodies(fake, "POST", f"{PAYMENTS}/payments")


def test_expired_hold_shows_no_pay_form(guest, fake):
    held = reservation(hold_expires_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 5)))
    fake.get(f"{RESERVATIONS}/reservations/{held['id']}", json=held)
    page = guest.get(f"/reservations/{held['id']}")
    assert "Your hold has ended" in page.text and "/pay" not in page.text


def test_receipt_is_proxied_for_the_owner(guest, fake):
    rid = reservation()["id"]
    fake.get(f"{RESERVATIONS}/reservations/{rid}/receipt.pdf", body=PDF, content_type="application/pdf")
    response = guest.get(f"/reservations/{rid}/receipt.pdf")
    assert response.content_type == "application/pdf" and response.body == PDF
    assert "attachment" in response.headers["Content-Disposition"]
    assert form_bodies(fake, "GET", f"{RESERVATIONS}/reservations/{rid}/receipt.pdf")[0].headers[
        "Authorization"] == "Bearer guest-access"


def test_someone_elses_reservation_looks_missing(guest, fake):
    rid = reservation()["id"]
    fake.get(f"{RESERVATIONS}/reservations/{rid}", status=404, json={"status": 404})
    fake.get(f"{RESERVATIONS}/reservations/{rid}/receipt.pdf", status=403, json={"status": 403})
    assert "Page not found" in guest.get(f"/reservations/{rid}", status=404).text
    guest.get(f"/reservations/{rid}/receipt.pdf", status=404)


def test_my_reservations_lists_and_cancels(guest, fake):
    confirmed = reservation("confirmed")
    fake.get(f"{RESERVATIONS}/reservations", json={"items": [confirmed, reservation("cancelled")],
                                                   "next_token": "more"})
    page = guest.get("/reservations")
    assert page.text.count("Hotel Bellevue") >= 2 and "Confirmed" in page.text and "Cancelled" in page.text
    assert "next_token=more" in page.text
    cancel_forms = [f for f in page.forms.values() if f.action.endswith("/cancel")]
    assert len(cancel_forms) == 1
    fake.post(f"{RESERVATIONS}/reservations/{confirmed['id']}/cancel", json={**confirmed, "status": "cancelled"})
    after = cancel_forms[0].submit(status=302).follow()
    assert "Your reservation is cancelled" in after.text
    assert form_bodies(fake, "POST", f"{RESERVATIONS}/reservations/{confirmed['id']}/cancel")[0].headers[
        "Authorization"] == "Bearer guest-access"


def test_cancel_refused(guest, fake):
    confirmed = reservation("confirmed")
    fake.get(f"{RESERVATIONS}/reservations", json={"items": [confirmed], "next_token": None})
    form = next(f for f in guest.get("/reservations").forms.values() if f.action.endswith("/cancel"))
    fake.post(f"{RESERVATIONS}/reservations/{confirmed['id']}/cancel", status=409, json={"status": 409})
    assert "can no longer be cancelled" in form.submit(status=302).follow().text


def test_my_reservations_when_reservations_is_down(guest, fake):
    fake.get(f"{RESERVATIONS}/reservations", body=responses.ConnectionError("down"))
    page = guest.get("/reservations", status=503)
    assert "Reservations are not available right now" in page.text and "Traceback" not in page.text


def test_a_revoked_token_is_refreshed_once(guest, fake):
    from conftest import AUTH, token_answer

    fake.get(f"{RESERVATIONS}/reservations", status=401, json={"status": 401})
    fake.post(f"{AUTH}/oauth/token", json=token_answer("fresh-access", "refresh-2"))
    guest.get("/reservations", status=302)  # still refused after a refresh: log in again
    auths = [r.headers["Authorization"] for r in form_bodies(fake, "GET", f"{RESERVATIONS}/reservations")]
    assert auths == ["Bearer guest-access", "Bearer fresh-access"]


def test_cancel_without_csrf_token_is_refused(guest, fake):
    rid = reservation()["id"]
    guest.post(f"/reservations/{rid}/cancel", status=400)
    assert not form_bodies(fake, "POST", f"{RESERVATIONS}/reservations/{rid}/cancel")


@pytest.mark.parametrize(("answer", "status", "same_key", "message"), [
    ({"status": 201, "json": {"id": "p1", "status": "failed"}}, 502, False, "problem at the bank"),
    ({"status": 502, "json": {"status": 502, "title": "Bad Gateway"}}, 502, False, "problem at the bank"),
    ({"status": 504, "json": {"status": 504, "title": "Gateway Timeout"}}, 503, True, "not answering"),
])
def test_payment_failures_say_what_happened(guest, fake, answer, status, same_key, message):
    held = reservation()
    fake.get(f"{RESERVATIONS}/reservations/{held['id']}", json=held)
    fake.post(f"{PAYMENTS}/payments", **answer)
    _, form = pay_form(guest, held)
    page = form.submit(status=status)
    assert message in page.text
    retry = next(f for f in page.forms.values() if f.action.endswith("/pay"))
    assert (retry["idempotency_key"].value == form["idempotency_key"].value) is same_key


def test_names_kept_by_reservations_are_used_when_search_is_down(guest, fake):
    held = reservation("confirmed", hotel_name="Hotel Seeblick", room_type_name="Junior suite",
                       payment_id="p1", receipt_number="HB-5B0C8F5E-8F1E4D0E")
    fake.replace(responses.GET, f"{SEARCH}/hotels/{HOTEL_ID}", body=responses.ConnectionError("down"))
    fake.get(f"{RESERVATIONS}/reservations", json={"items": [held], "next_token": None})
    fake.get(f"{RESERVATIONS}/reservations/{held['id']}", json=held)
    listing = guest.get("/reservations")
    assert "Hotel Seeblick" in listing.text and "Junior suite" in listing.text
    detail = guest.get(f"/reservations/{held['id']}")
    assert "Hotel Seeblick" in detail.text and "Junior suite" in detail.text
    assert "Your reservation is confirmed" in detail.text
    assert "<dt>Receipt number</dt><dd><code>HB-5B0C8F5E-8F1E4D0E</code></dd>" in detail.text


def test_a_payment_still_in_progress_keeps_the_key(guest, fake):
    held = reservation()
    fake.get(f"{RESERVATIONS}/reservations/{held['id']}", json=held)
    fake.post(f"{PAYMENTS}/payments", status=409, json={"status": 409, "title": "Conflict",
                                                        "type": "urn:problem:hotelbook:in-progress"})
    _, form = pay_form(guest, held)
    page = form.submit(status=409)
    assert "still being processed" in page.text
    retry = next(f for f in page.forms.values() if f.action.endswith("/pay"))
    assert retry["idempotency_key"].value == form["idempotency_key"].value


# --- cancellation policy, cancellation notes, holds cap, payments being checked -------------------------

FLEXIBLE = {"kind": "flexible", "free_cancellation_hours": 48, "nights_kept": 1, "checkin_time": "15:00",
            "description": "Free cancellation until 48 hours before check-in (15:00, hotel's local time); "
                           "after that the first night is kept."}
KEPT_POLICY = {**FLEXIBLE, "timezone": "Europe/Zurich", "free_until": "2027-02-27T15:00:00+01:00",
               "stay_starts_at": "2027-03-01T15:00:00+01:00"}


def test_the_policy_is_shown_in_results_on_the_hotel_page_and_before_paying(guest, fake):
    policy_hotel = hotel(room_types=[{**hotel()["room_types"][0], "cancellation_policy": FLEXIBLE}])
    fake.replace(responses.GET, f"{SEARCH}/hotels/{HOTEL_ID}", json=policy_hotel)
    fake.get(f"{SEARCH}/hotels", json={"items": [{
        "id": HOTEL_ID, "name": "Hotel Bellevue", "city": "Zürich", "country": "CH", "stars": 4,
        "available": True, "stay_price": {"amount": 24000, "currency": "EUR"},
        "cancellation_policy": {**FLEXIBLE, "kind": "non_refundable",
                                "description": "Non-refundable: the full price is kept if you cancel."}}],
        "next_token": None})
    assert "Non-refundable: the full price is kept" in guest.get("/hotels", params={"city": "Zürich", **DATES}).text
    assert "Free cancellation until 48 hours before check-in" in guest.get(f"/hotels/{HOTEL_ID}", params=DATES).text
    held = reservation(cancellation_policy=KEPT_POLICY)
    fake.get(f"{RESERVATIONS}/reservations/{held['id']}", json=held)
    page = guest.get(f"/reservations/{held['id']}")
    assert "Pay for your room" in page.text
    assert "Free cancellation until 48 hours before check-in" in page.text
    assert "Free cancellation until Sat 27 Feb 2027, 15:00 Zurich time" in page.text


def test_cancelling_says_what_was_refunded_and_kept_and_offers_the_note(guest, fake):
    confirmed = reservation("confirmed", payment_id="p1", cancellation_policy=KEPT_POLICY)
    cancelled = {**confirmed, "status": "cancelled", "refunded": {"amount": 12000, "currency": "EUR"},
                 "cancellation_fee": {"amount": 12000, "currency": "EUR"}}
    fake.get(f"{RESERVATIONS}/reservations", json={"items": [confirmed], "next_token": None})
    fake.post(f"{RESERVATIONS}/reservations/{confirmed['id']}/cancel", json=cancelled)
    listing = guest.get("/reservations")
    assert 'data-confirm="Cancel this reservation? Free cancellation until 48 hours' in listing.text
    form = next(f for f in listing.forms.values() if f.action.endswith("/cancel"))
    fake.replace(responses.GET, f"{RESERVATIONS}/reservations", json={"items": [cancelled], "next_token": None})
    after = form.submit(status=302).follow()
    assert "€120.00 is refunded to your card; €120.00 is kept under the cancellation policy" in after.text
    assert "Cancellation note" in after.text and ">Receipt<" not in after.text
    fake.get(f"{RESERVATIONS}/reservations/{confirmed['id']}", json=cancelled)
    detail = guest.get(f"/reservations/{confirmed['id']}")
    assert "Download cancellation note (PDF)" in detail.text and "Download receipt" not in detail.text
    fake.get(f"{RESERVATIONS}/reservations/{confirmed['id']}/receipt.pdf", body=PDF,
             content_type="application/pdf", headers={"X-Document": "cancellation"})
    pdf = guest.get(f"/reservations/{confirmed['id']}/receipt.pdf")
    assert "hotelbook-cancellation-" in pdf.headers["Content-Disposition"]


def test_no_cancellation_once_the_stay_started_is_explained(guest, fake):
    confirmed = reservation("confirmed", payment_id="p1")
    fake.get(f"{RESERVATIONS}/reservations", json={"items": [confirmed], "next_token": None})
    fake.post(f"{RESERVATIONS}/reservations/{confirmed['id']}/cancel", status=409, json={
        "status": 409, "title": "Conflict", "type": "urn:problem:hotelbook:stay-started",
        "detail": "The stay started on 2027-03-01 15:00 (hotel's local time): a reservation can no longer be "
                  "cancelled once the stay has started."})
    form = next(f for f in guest.get("/reservations").forms.values() if f.action.endswith("/cancel"))
    assert "no longer be cancelled once the stay has started" in form.submit(status=302).follow().text


def test_too_many_holds_is_explained(guest, fake):
    fake.post(f"{RESERVATIONS}/reservations", status=409, json={
        "status": 409, "title": "Conflict", "type": "urn:problem:hotelbook:too-many-holds",
        "detail": "You already hold 5 unpaid rooms, the most one guest may hold at once."})
    page = reserve_form(guest).submit(status=302).follow()
    assert "You already hold 5 unpaid rooms" in page.text and "just taken" not in page.text


def test_a_payment_being_checked_with_the_bank_keeps_the_key_and_says_so(guest, fake):
    held = reservation()
    fake.get(f"{RESERVATIONS}/reservations/{held['id']}", json=held)
    fake.post(f"{PAYMENTS}/payments", status=504, json={
        "status": 504, "title": "Gateway Timeout", "type": "urn:problem:hotelbook:payment-pending",
        "status_now": "pending", "payment_id": "p1"})
    _, form = pay_form(guest, held)
    page = form.submit(status=202)
    assert "being checked with the bank" in page.text and "never be charged twice" in page.text
    retry = next(f for f in page.forms.values() if f.action.endswith("/pay"))
    assert retry["idempotency_key"].value == form["idempotency_key"].value


def test_hold_expiry_and_free_cancellation_are_in_the_hotels_time(guest, fake):
    held = reservation(hold_expires_at="2030-02-01T14:31:00Z",
                       cancellation_policy={"kind": "flexible", "timezone": "Europe/Zurich",
                                            "description": "Free cancellation until 48 hours before check-in.",
                                            "free_until": "2030-02-27T15:00:00+01:00"})
    fake.post(f"{RESERVATIONS}/reservations", status=201, json=held)
    fake.get(f"{RESERVATIONS}/reservations/{held['id']}", json=held)
    page = reserve_form(guest).submit(status=302).follow()
    assert "Fri 01 Feb 2030, 15:31 Zurich time" in page.text  # not 14:31 UTC
    assert "Free cancellation until Wed 27 Feb 2030, 15:00 Zurich time." in page.text
    assert "UTC" not in page.text
