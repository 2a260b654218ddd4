"""Money as text, from the API's integer minor units (``hotelbook_chassis.stays.money`` is the JSON shape)."""

from __future__ import annotations

CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£"}


def format_money(amount: int, currency: str, *, symbol: bool = False) -> str:
    """Integer arithmetic, never a float: ``123456, "EUR"`` -> ``1,234.56 EUR``, or ``€1,234.56`` with
    ``symbol`` for a currency that has one (two-decimal currencies)."""
    sign = "-" if amount < 0 else ""
    units, cents = divmod(abs(int(amount)), 100)
    text = f"{units:,}.{cents:02d}"
    mark = CURRENCY_SYMBOLS.get(currency) if symbol else None
    return f"{sign}{mark}{text}" if mark else f"{sign}{text} {currency}"
