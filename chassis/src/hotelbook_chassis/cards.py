"""Cards in plain Python: the Luhn check digit, the brand and the checks made before a card is sent
or charged (payments' API, booking-ui's form), for every party that reads a card."""

from __future__ import annotations

from datetime import date


def luhn_ok(number: str) -> bool:
    digits = [int(d) for d in reversed(number)]
    total = sum(digits[0::2]) + sum(sum(divmod(2 * d, 10)) for d in digits[1::2])
    return total % 10 == 0


def brand(number: str) -> str:
    if number.startswith("4"):
        return "visa"
    if number[:2] in {"51", "52", "53", "54", "55"} or 2221 <= int(number[:4] or 0) <= 2720:
        return "mastercard"
    if number[:2] in {"34", "37"}:
        return "amex"
    return "card"


def normalise_number(number: str) -> str:
    """The digits as typed, spaces and dashes dropped ("4242 4242-4242 4242")."""
    return "".join(ch for ch in number if not ch.isspace() and ch != "-")


def number_ok(number: str) -> bool:
    """12 to 19 digits with a valid Luhn check digit."""
    return number.isdigit() and 12 <= len(number) <= 19 and luhn_ok(number)


def expired(exp_month: int, exp_year: int, today: date) -> bool:
    """A card is good through the last day of its expiry month."""
    return (exp_year, exp_month) < (today.year, today.month)


def cvc_ok(cvc: str) -> bool:
    return cvc.isdigit() and len(cvc) in (3, 4)
