"""The rules of a stay shared by every service: nights are ``[checkin, checkout)``."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation, localcontext

MAX_NIGHTS = 30


def stay_errors(checkin: date | None, checkout: date | None, today: date) -> dict[str, str]:
    """Field name -> reason, for a stay that cannot be searched or booked."""
    if checkin is None and checkout is None:
        return {}
    if checkin is None or checkout is None:
        missing = "checkin" if checkin is None else "checkout"
        return {missing: "checkin and checkout go together."}
    if checkin < today:
        return {"checkin": "The stay cannot start in the past."}
    if checkout <= checkin:
        return {"checkout": "checkout must be after checkin."}
    if (checkout - checkin).days > MAX_NIGHTS:
        return {"checkout": f"A stay is at most {MAX_NIGHTS} nights."}
    return {}


def nights(checkin: date, checkout: date) -> int:
    return (checkout - checkin).days


def each_night(checkin: date, checkout: date) -> list[date]:
    return [checkin + timedelta(days=offset) for offset in range(nights(checkin, checkout))]


def money(amount: int, currency: str) -> dict[str, int | str]:
    """The money shape of every API: integer minor units and a currency."""
    return {"amount": amount, "currency": currency}


def tax_included(gross: int, rate_percent: str) -> int:
    """The tax inside a price that includes it, in minor units: ``gross * r / (100 + r)``.

    ``gross`` is integer minor units, ``rate_percent`` a decimal string ("3.8"); the result is
    rounded half to even (banker's rounding) to a whole minor unit, so 1038 at 3.8 % is 38
    and the net price is ``gross - tax``. Exact decimal arithmetic, never floats.
    """
    try:
        rate = Decimal(rate_percent)
    except InvalidOperation as error:
        raise ValueError(f"not a decimal rate: {rate_percent!r}") from error
    if not rate.is_finite() or not 0 <= rate < 100:
        raise ValueError(f"a tax rate is a percentage from 0 to 100: {rate_percent!r}")
    with localcontext(prec=60):
        return int((Decimal(gross) * rate / (100 + rate)).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
