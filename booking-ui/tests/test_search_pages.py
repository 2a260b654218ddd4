import responses
from conftest import HOTEL_ID, SEARCH, hotel

STAY = {"city": "Zürich", "checkin": "2030-03-01", "checkout": "2030-03-03", "guests": "2"}
DATES_ONLY = {"checkin": "2030-03-01", "checkout": "2030-03-03", "guests": "2"}


def result(name, stars, amount, **extra):
    return {"id": HOTEL_ID, "name": name, "city": "Zürich", "country": "CH", "stars": stars, "available": True,
            "stay_price": {"amount": amount, "currency": "EUR"}, **extra}


def test_home_has_search_form_with_labels_and_landmarks(client):
    page = client.get("/")
    assert page.status_code == 200
    html = page.text
    for snippet in ('<label for="city">City</label>', '<label for="checkin">', '<label for="guests">',
                    '<header', '<nav aria-label="Main">', '<main id="main"', '<footer', 'class="skip-link"',
                    'list="city-options"'):
        assert snippet in html
    assert "no-store" in page.headers["Cache-Control"]
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]


def test_results_show_stay_price_stars_filters_and_next_page(client, fake):
    fake.get(f"{SEARCH}/hotels", json={"items": [result("Pricey", 5, 90000), result("Cheap", 2, 20000),
                                                 result("Middle", 4, 40000)], "next_token": "tok-2"})
    page = client.get("/hotels", params={**STAY, "stars": "3"})
    assert page.status_code == 200
    sent = fake.calls[0].request.url
    assert "city=Z%C3%BCrich" in sent and "checkin=2030-03-01" in sent and "guests=2" in sent
    assert "stars=3" in sent and "sort=price" in sent  # filters and order are search's, for paging
    html = page.text
    assert "Cheap" not in html  # below 3 stars
    assert html.index("Middle") < html.index("Pricey")  # cheapest first
    assert "€400.00" in html and "for 2 nights" in html and '<span class="visually-hidden">4 stars</span>' in html
    assert "next_token=tok-2" in html
    fake.get(f"{SEARCH}/hotels", json={"items": [], "next_token": None})
    second = client.get("/hotels", params={**STAY, "next_token": "tok-2"})
    assert "next_token=tok-2" in fake.calls[1].request.url
    assert "No hotels match" in second.text and "First page" in second.text


def test_invalid_search_shows_errors_on_the_form(client):
    page = client.get("/hotels", params={"city": "", "checkin": "2030-03-03", "checkout": "2030-03-01"},
                      status=400)
    assert "Enter a city" in page.text and "Check-out must be after check-in" in page.text


def test_search_down_shows_a_friendly_message(client, fake):
    fake.get(f"{SEARCH}/hotels", body=responses.ConnectionError("refused"))
    page = client.get("/hotels", params=STAY, status=503)
    assert "Hotel search is not available right now" in page.text
    assert "Traceback" not in page.text and "<form" in page.text  # the search form is still there


def test_city_suggestions_proxy_search(client, fake):
    fake.get(f"{SEARCH}/cities", json=[{"name": "Zürich", "country": "CH"}, {"name": "Zug", "country": "CH"}])
    assert client.get("/suggest/cities", params={"prefix": "Zu"}).json == [
        {"name": "Zürich", "country": "CH"}, {"name": "Zug", "country": "CH"}]
    assert "prefix=Zu" in fake.calls[0].request.url
    fake.replace(responses.GET, f"{SEARCH}/cities", status=503)
    assert client.get("/suggest/cities", params={"prefix": "Zu"}).json == []


def test_hotel_page_lists_room_types_with_price_for_the_dates(client, fake):
    fake.get(f"{SEARCH}/hotels/{HOTEL_ID}", json=hotel(room_types=[
        {**hotel()["room_types"][0], "free": 2},
        {"id": "1f3e2a7c-4a58-4f57-8c43-2f6d7c9e1b23", "name": "Single room", "capacity": 1,
         "nightly_price": {"amount": 8000, "currency": "EUR"}, "rooms": 1, "free": 0},
    ]))
    page = client.get(f"/hotels/{HOTEL_ID}", params={"checkin": "2030-03-01", "checkout": "2030-03-04",
                                                     "guests": "2"})
    html = page.text
    assert "Hotel Bellevue" in html and "Double room" in html and "Sleeps 2" in html
    assert "€360.00" in html and "2 left" in html  # 3 nights x 120
    assert "Too small for 2 guests" in html
    assert html.count('<span class="visually-hidden"> Double room</span>') == 1
    assert "checkin=2030-03-01" in fake.calls[0].request.url
    assert "Prices include" not in html  # search named no VAT rate for this hotel


def test_hotel_page_states_the_vat_included_from_the_catalogue(client, fake):
    fake.get(f"{SEARCH}/hotels/{HOTEL_ID}", json=hotel(vat_percent="3.8"))
    assert "Prices include 3.8 % VAT." in client.get(f"/hotels/{HOTEL_ID}").text


def test_unknown_hotel_is_a_friendly_404(client, fake):
    fake.get(f"{SEARCH}/hotels/{HOTEL_ID}", status=404, json={"status": 404, "title": "Not Found"})
    page = client.get(f"/hotels/{HOTEL_ID}", status=404)
    assert page.content_type == "text/html" and "Page not found" in page.text
    client.get("/hotels/not-an-id", status=404)


def test_error_pages_html_for_browsers_problem_json_for_json_clients(client):
    page = client.get("/no-such-page", headers={"Accept": "text/html"}, status=404)
    assert page.content_type == "text/html" and "Page not found" in page.text
    problem = client.get("/no-such-page", headers={"Accept": "application/json"}, status=404)
    assert problem.content_type == "application/problem+json" and problem.json["status"] == 404
    assert client.get("/healthz").json["service"] == "booking-ui"


def test_openapi_documents_the_json_endpoint(client):
    spec = client.get("/openapi.json").json
    assert "/suggest/cities" in spec["paths"]
    assert client.get("/suggest/cities", params={"prefix": "x" * 51}, status=400).content_type == \
        "application/problem+json"


def test_hotel_page_still_shows_when_search_refuses_the_dates(client, fake):
    fake.get(f"{SEARCH}/hotels/{HOTEL_ID}", status=400, json={"status": 400, "invalid_params": [
        {"name": "checkin", "reason": "too far"}]}, match=[responses.matchers.query_param_matcher(
            {"checkin": "2030-03-01", "checkout": "2030-03-03", "guests": "2"})])
    fake.get(f"{SEARCH}/hotels/{HOTEL_ID}", json=hotel())
    page = client.get(f"/hotels/{HOTEL_ID}", params=DATES_ONLY)
    assert "Hotel Bellevue" in page.text and "Double room" in page.text


def test_an_unexpected_error_is_a_friendly_page_never_a_traceback(client, app, monkeypatch):
    peers = app.extensions["ui_peers"]

    def broken(*_args, **_kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(peers, "hotels", broken)
    page = client.get("/hotels", params=STAY, status=500)
    assert page.content_type == "text/html"
    assert "Something went wrong on our side" in page.text and "boom" not in page.text
    assert "Traceback" not in page.text and page.headers["X-Request-ID"] in page.text
    monkeypatch.setattr(peers, "cities", broken)
    problem = client.get("/suggest/cities", params={"prefix": "Z"}, status=500)
    assert problem.content_type == "application/problem+json" and "boom" not in problem.text


def test_wrong_method_is_a_friendly_page(client):
    page = client.get("/logout", status=405)
    assert page.content_type == "text/html" and "That did not work" in page.text


def test_heading_uses_the_catalogues_city_name_not_the_typed_one(client, fake):
    fake.get(f"{SEARCH}/hotels", json={"items": [result("Bellevue", 4, 40000)], "next_token": None})
    page = client.get("/hotels", params={**STAY, "city": "zurich"})
    assert "<h1 id=\"results-title\">Hotels in Zürich</h1>" in page.text
    assert "<title>Hotels in Zürich" in page.text


def test_empty_result_suggests_nearby_spellings(client, fake):
    fake.get(f"{SEARCH}/hotels", json={"items": [], "next_token": None})
    fake.get(f"{SEARCH}/cities", json={"items": [{"name": "Zürich", "country": "CH"},
                                                 {"name": "Zug", "country": "CH"}]})
    page = client.get("/hotels", params={**STAY, "city": "Zurch"})
    assert "No hotels match" in page.text and "Did you mean" in page.text
    link = page.html.find("a", string="Zürich (CH)")
    assert link is not None and "city=Z%C3%BCrich" in link["href"] and "checkin=2030-03-01" in link["href"]
    assert page.html.find("a", string="Zug (CH)") is None  # too far from "Zurch"
    assert "prefix=Zu" in fake.calls[1].request.url


def test_results_come_before_a_closed_filter_disclosure_on_small_screens(client, fake):
    fake.get(f"{SEARCH}/hotels", json={"items": [result("Bellevue", 4, 40000)], "next_token": None})
    html = client.get("/hotels", params=STAY).text
    assert html.index('id="results-title"') < html.index('class="filters card"') < html.index("Bellevue")
    assert '<details class="filters-disclosure" data-open-wide>' in html  # closed: one line on a phone
    filtered = client.get("/hotels", params={**STAY, "stars": "3"}).text
    assert '<details class="filters-disclosure" data-open-wide open>' in filtered  # a set filter stays visible
