"""The VAT included in a hotel room's price, per country: catalogue data, like the hotels.

Percent of the net price, as a decimal string (never a float): the rate on accommodation,
which in most countries is a reduced one. A country missing here has no rate on record and
its hotels say ``vat_percent: null`` (receipts then state no tax line rather than a wrong
one). Rates as of January 2026; a change is a change of this table, and each reservation
keeps the rate it was held at.
"""

from __future__ import annotations

from decimal import Decimal

ACCOMMODATION_VAT_PERCENT: dict[str, str] = {
    "AT": "10", "BE": "6", "BG": "9", "CH": "3.8", "CZ": "12", "DE": "7", "DK": "25", "EE": "13",
    "ES": "10", "FI": "14", "FR": "10", "GB": "20", "GR": "13", "HR": "13", "HU": "18", "IE": "13.5",
    "IT": "10", "LU": "3", "LV": "12", "NL": "21", "NO": "12", "PL": "8", "PT": "6", "RO": "11",
    "SE": "12", "SI": "9.5", "SK": "5",
}


def vat_percent(country: str) -> str | None:
    """The accommodation VAT rate of an ISO 3166 country ("CH" -> "3.8"), or None when not on record."""
    return ACCOMMODATION_VAT_PERCENT.get((country or "").upper())


def check_table() -> None:
    """Every rate is a plain decimal from 0 to 100 (the table's own test)."""
    for country, rate in ACCOMMODATION_VAT_PERCENT.items():
        value = Decimal(rate)
        if not (len(country) == 2 and country.isupper() and 0 <= value < 100 and value == value.normalize()):
            raise ValueError(f"bad VAT rate for {country}: {rate}")
