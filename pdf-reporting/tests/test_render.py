import io
import json

import pytest
from pypdf import PdfReader

from hotelbook_chassis.testing import bearer
from hotelbook_pdf.actions import TEMPLATES, OwnFilesOnly, RefusedURL, Renderer, money


def pdf_text(body: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(body)).pages)


def test_receipt_has_hotel_total_and_names_in_any_script(client, receipt, renderer_token):
    response = client.post_json("/render", {"template": "receipt", "data": receipt}, headers=renderer_token)
    assert response.content_type == "application/pdf"
    assert response.body.startswith(b"%PDF")
    text = pdf_text(response.body)
    assert "Hotel Limmatblick" in text
    assert "300.00 EUR" in text and "150.00 EUR" in text
    assert "Zoë Ñúñez" in text
    assert "山田太郎" in text
    assert receipt["reservation_id"] in text


def test_render_needs_scope(client, receipt, token_factory):
    client.post_json("/render", {"template": "receipt", "data": receipt}, status=401)
    client.post_json("/render", {"template": "receipt", "data": receipt},
                     headers=bearer(token_factory("guest")), status=403)


def test_templates_listed(client):
    items = client.get("/templates").json["items"]
    assert items[0]["name"] == "receipt"
    assert "hotel.name" in items[0]["fields"]


def test_unknown_template_is_404_problem(client, receipt, renderer_token):
    response = client.post_json("/render", {"template": "../../etc/passwd", "data": receipt},
                                headers=renderer_token, status=404)
    assert response.content_type == "application/problem+json"


def test_missing_and_wrong_fields_named(client, receipt, renderer_token):
    del receipt["hotel"]["name"]
    receipt["total"] = {"amount": "lots", "currency": "EUR"}
    problem = client.post_json("/render", {"template": "receipt", "data": receipt}, headers=renderer_token,
                               status=400).json
    names = {p["name"] for p in problem["invalid_params"]}
    assert {"data.hotel.name", "data.total.amount"} <= names


def test_oversize_data_is_413_problem(client, receipt, renderer_token):
    receipt["padding"] = "x" * 70_000
    response = client.post_json("/render", {"template": "receipt", "data": receipt}, headers=renderer_token,
                                status=413)
    assert response.content_type == "application/problem+json"


def test_data_is_text_not_markup_or_code(client, receipt, renderer_token):
    receipt["guest"]["name"] = "{{ ''.__class__.__mro__ }} <img src='file:///etc/passwd'>"
    receipt["hotel"]["name"] = "<style>@import url('http://127.0.0.1:9/steal');</style>Evil"
    body = client.post_json("/render", {"template": "receipt", "data": receipt}, headers=renderer_token).body
    text = pdf_text(body)
    assert "{{ ''.__class__.__mro__ }}" in text  # printed as typed, never evaluated
    assert "root:" not in text
    assert "<style>" in text


def test_fetcher_refuses_everything_outside_the_templates_folder(tmp_path):
    fetcher = OwnFilesOnly(TEMPLATES)
    for url in ("file:///etc/passwd", "http://127.0.0.1:9/x", "https://example.com/a.png",
                f"{TEMPLATES.as_uri()}/../../../../etc/passwd", "data:text/plain,hi", "ftp://x/y",
                f"{(tmp_path / 'x.css').as_uri()}", "file://evil.example/etc/passwd"):
        with pytest.raises(RefusedURL):
            fetcher.fetch(url)
    assert len(fetcher.refused) == 8
    response = fetcher.fetch(f"{TEMPLATES.as_uri()}/receipt.css")
    assert response is not None


def test_document_urls_go_through_the_fetcher_and_are_refused():
    # If a template ever referenced outside resources, the fetcher would refuse them.
    renderer = Renderer()
    fetcher = OwnFilesOnly(TEMPLATES)
    pdf = renderer.pdf_from_html(
        "<img src='file:///etc/passwd'><img src='http://127.0.0.1:1/ssrf'>"
        "<link rel=stylesheet href='http://127.0.0.1:1/x.css'><p>hello</p>", fetcher=fetcher)
    assert pdf.startswith(b"%PDF")
    assert set(fetcher.refused) == {"file:///etc/passwd", "http://127.0.0.1:1/ssrf", "http://127.0.0.1:1/x.css"}
    assert "hello" in pdf_text(pdf)


def test_sandbox_blocks_unsafe_template_code():
    from jinja2.exceptions import SecurityError

    renderer = Renderer()
    with pytest.raises(SecurityError):
        renderer.env.from_string("{{ ''.__class__.__mro__[1].__subclasses__() }}").render()


def test_money_format():
    assert money({"amount": 12345, "currency": "EUR"}) == "123.45 EUR"
    assert money({"amount": 123456789, "currency": "CHF"}) == "1,234,567.89 CHF"
    assert money({"amount": 5, "currency": "EUR"}) == "0.05 EUR"


def test_malformed_body(client, renderer_token):
    client.post("/render", "{", content_type="application/json", headers=renderer_token, status=400)
    problem = client.post_json("/render", {"template": "receipt"}, headers=renderer_token, status=400).json
    assert "data" in {p["name"] for p in problem["invalid_params"]}
    client.post_json("/render", {"template": "receipt", "data": [], "x": 1}, headers=renderer_token, status=400)
    assert json.loads(client.get("/openapi.json").text)["paths"]["/render"]


def test_receipt_states_the_cancellation_policy(client, receipt, renderer_token):
    receipt["cancellation_policy"] = ("Free cancellation until 48 hours before check-in; "
                                      "after that the first night is kept.")
    text = pdf_text(client.post_json("/render", {"template": "receipt", "data": receipt}, headers=renderer_token).body)
    assert "48 hours before check-in" in text and "Total paid" in text


def test_cancellation_note_shows_paid_refunded_and_kept_and_is_no_receipt(client, receipt, renderer_token):
    note = {**receipt, "paid": {"amount": 30000, "currency": "EUR"}, "refunded": {"amount": 15000, "currency": "EUR"},
            "kept": {"amount": 15000, "currency": "EUR"}, "cancelled_at": "2027-02-27T09:00:00Z"}
    response = client.post_json("/render", {"template": "cancellation", "data": note}, headers=renderer_token)
    text = pdf_text(response.body)
    assert "Cancellation note" in text and "Total paid" not in text
    assert "Paid" in text and "300.00 EUR" in text
    assert "Refunded to the card" in text and "Kept as cancellation fee" in text and "150.00 EUR" in text
    del note["kept"]
    problem = client.post_json("/render", {"template": "cancellation", "data": note}, headers=renderer_token,
                               status=400).json
    assert "data.kept" in {p["name"] for p in problem["invalid_params"]}


def test_receipt_states_its_number_and_the_vat_included(client, receipt, renderer_token):
    # 30000 at 3.8 %: 30000 * 3.8 / 103.8 = 1098.27 -> 1098 cents of VAT, net 289.02
    receipt.update(receipt_number="HB-5B0C8F5E-8F1E4D0E",
                   tax={"name": "VAT", "rate_percent": "3.8", "amount": {"amount": 1098, "currency": "EUR"}})
    text = pdf_text(client.post_json("/render", {"template": "receipt", "data": receipt}, headers=renderer_token).body)
    assert "Receipt number HB-5B0C8F5E-8F1E4D0E" in text
    assert "Includes VAT 3.8 %: 10.98 EUR" in text and "net 289.02 EUR" in text


def test_cancellation_note_states_the_vat_in_what_was_kept(client, receipt, renderer_token):
    note = {**receipt, "paid": {"amount": 30000, "currency": "EUR"}, "refunded": {"amount": 20000, "currency": "EUR"},
            "kept": {"amount": 10000, "currency": "EUR"}, "receipt_number": "HB-5B0C8F5E-8F1E4D0E",
            "tax": {"name": "VAT", "rate_percent": "10", "amount": {"amount": 909, "currency": "EUR"}}}
    text = pdf_text(client.post_json("/render", {"template": "cancellation", "data": note},
                                     headers=renderer_token).body)
    assert "Receipt number HB-5B0C8F5E-8F1E4D0E" in text
    assert "Includes VAT 10 %: 9.09 EUR" in text and "net 90.91 EUR" in text


@pytest.mark.parametrize(("tax", "reason"), [
    ({"rate_percent": "3.8", "amount": {"amount": 1099, "currency": "EUR"}}, "is 1098"),  # off by a cent
    ({"rate_percent": "3.8", "amount": {"amount": 1098, "currency": "CHF"}}, "another currency"),
    ({"rate_percent": "abc", "amount": {"amount": 0, "currency": "EUR"}}, None),
    ({"rate_percent": "100", "amount": {"amount": 0, "currency": "EUR"}}, None),
    ({"amount": {"amount": 0, "currency": "EUR"}}, None),
])
def test_a_tax_that_does_not_add_up_is_refused(client, receipt, renderer_token, tax, reason):
    receipt["tax"] = tax
    problem = client.post_json("/render", {"template": "receipt", "data": receipt}, headers=renderer_token,
                               status=400).json
    names = {p["name"] for p in problem["invalid_params"]}
    assert any(name.startswith("data.tax") for name in names), problem
    if reason:
        assert reason in json.dumps(problem)


def test_without_a_rate_on_record_the_receipt_states_no_tax_figure(client, receipt, renderer_token):
    receipt["tax"] = None
    text = pdf_text(client.post_json("/render", {"template": "receipt", "data": receipt}, headers=renderer_token).body)
    assert "Includes VAT" not in text and "Prices include taxes" in text
