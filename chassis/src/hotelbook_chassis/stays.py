"""The rules of a stay shared by every service: nights are ``[checkin, checkout)``."""

from __future__ import annotations

from datetime import date, timedelta

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
