"""Receipt downloads: a repeated download vs the first one (which renders the PDF).

reservations runs in-process on a temporary SQLite database; users is faked and
pdf-reporting is the real app (in-process), so the first download pays for a real
WeasyPrint render and the next ones read the kept PDF.

    python bench/receipts.py        goal: repeated / first <= 0.05
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import responses

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Tokens

from hotelbook_chassis.migrations import upgrade
from hotelbook_pdf import create_app as create_pdf
from hotelbook_reservations import create_app as create_reservations

HOTEL = {"id": "h1", "name": "Hotel Limmatblick", "city": "Zürich", "country": "CH", "address": "Limmatquai 1",
         "room_types": [{"id": "rt1", "name": "Double", "capacity": 2, "rooms": 50,
                         "nightly_price": {"amount": 15000, "currency": "EUR"}}]}


def main(downloads: int = 20) -> None:
    tokens = Tokens()
    pdf_client = create_pdf(tokens.config("pdf-reporting")).test_client()
    pdf_headers = tokens.bearer("pdf:render", "pdf-reporting")
    with tempfile.TemporaryDirectory() as folder:
        app = create_reservations({**tokens.config("reservations"),
                                   "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/r.db", "VAR_DIR": folder,
                                   "SEARCH_URL": "http://search.bench", "USERS_URL": "http://users.bench",
                                   "PDF_REPORTING_URL": "http://pdf.bench"})
        upgrade(app)
        client = app.test_client()
        guest = tokens.bearer("guest", "reservations", sub="u1")
        payments = tokens.bearer("reservations:confirm", "reservations", sub="payments")

        def render(request):  # the real pdf-reporting, in-process
            answer = pdf_client.post("/render", data=request.body, headers={**pdf_headers,
                                     "Content-Type": "application/json"})
            return answer.status_code, {"Content-Type": "application/pdf"}, answer.data

        with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
            mock.add(responses.GET, "http://search.bench/hotels/h1", json=HOTEL)
            mock.add(responses.GET, "http://users.bench/users/u1", json={"id": "u1", "name": "Zoë Ñúñez",
                                                                         "email": "zoe@example.test"})
            mock.add_callback(responses.POST, "http://pdf.bench/render", callback=render)
            firsts, repeats = [], []
            for offset in range(5):
                checkin = date.today() + timedelta(days=30 + offset * 3)
                held = client.post("/reservations", json={"hotel_id": "h1", "room_type_id": "rt1",
                                   "checkin": checkin.isoformat(),
                                   "checkout": (checkin + timedelta(days=2)).isoformat(), "guests": 2},
                                   headers=guest).json
                client.post(f"/reservations/{held['id']}/confirm", json={"payment_id": f"p{offset}"},
                            headers=payments)
                url = f"/reservations/{held['id']}/receipt.pdf"
                started = time.perf_counter()
                assert client.get(url, headers=guest).status_code == 200
                firsts.append(time.perf_counter() - started)
                for _ in range(downloads):
                    started = time.perf_counter()
                    assert client.get(url, headers=guest).status_code == 200
                    repeats.append(time.perf_counter() - started)
            renders = len([c for c in mock.calls if c.request.url.endswith("/render")])

    first, repeat = statistics.median(firsts), statistics.median(repeats)
    print(f"first download (renders):   {first * 1000:.1f} ms")
    print(f"repeated download (kept):   {repeat * 1000:.2f} ms")
    print(f"ratio repeated/first: {repeat / first:.3f}x (goal <= 0.05); renders: {renders} for "
          f"{len(firsts) * (downloads + 1)} downloads")


if __name__ == "__main__":
    main()
