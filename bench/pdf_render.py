"""Receipt rendering: the pdf-reporting service vs WeasyPrint called directly on the same HTML.

    python bench/pdf_render.py      goal: service / direct <= 1.2
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Tokens, interleaved
from weasyprint import CSS, HTML

from hotelbook_pdf import create_app
from hotelbook_pdf.actions import TEMPLATES, Renderer
from hotelbook_pdf.schemas import ReceiptData

RECEIPT = {
    "reservation_id": "4f1c2a8e-2b51-4c55-9d1e-2a1b3c4d5e6f", "payment_id": "pay-7d3c",
    "hotel": {"name": "Hotel Limmatblick", "address": "Limmatquai 1", "city": "Zürich", "country": "CH"},
    "guest": {"name": "Zoë Ñúñez 山田太郎", "email": "zoe@example.test"}, "room_type": "Double",
    "checkin": "2027-03-01", "checkout": "2027-03-03", "nights": 2, "guests": 2,
    "nightly_price": {"amount": 15000, "currency": "EUR"}, "total": {"amount": 30000, "currency": "EUR"},
    "issued_at": "2027-02-01T10:00:00Z",
}


def main() -> None:
    tokens = Tokens()
    app = create_app(tokens.config("pdf-reporting"))
    client = app.test_client()
    headers = tokens.bearer("pdf:render", "pdf-reporting", sub="reservations")
    html = Renderer().html("receipt", ReceiptData().load(RECEIPT))
    css = str(TEMPLATES / "receipt.css")

    def through_service() -> None:
        response = client.post("/render", json={"template": "receipt", "data": RECEIPT}, headers=headers)
        assert response.status_code == 200, response.text

    def direct() -> None:
        HTML(string=html, base_url=TEMPLATES.as_uri() + "/").write_pdf(stylesheets=[CSS(filename=css)])

    through_service(), direct()  # warm up both
    service, plain = interleaved(through_service, direct, rounds=5, repeat=4)
    print(f"receipt via service (HTTP, validation, sandbox, fetcher): {service * 1000:.1f} ms")
    print(f"WeasyPrint directly on the same HTML:                     {plain * 1000:.1f} ms")
    print(f"ratio service/direct: {service / plain:.2f}x (goal <= 1.2)")


if __name__ == "__main__":
    main()
