"""Payment rules in plain Python: the status machine, and the card checks done before any bank call."""

from __future__ import annotations

from datetime import date

from hotelbook_chassis.cards import brand, cvc_ok, expired, luhn_ok, normalise_number, number_ok

__all__ = ["STATUSES", "TRANSITIONS", "InvalidTransition", "brand", "card_problems", "check_transition", "luhn_ok",
           "normalise_number"]

PENDING, SUCCEEDED, DECLINED, FAILED, REFUNDED = "pending", "succeeded", "declined", "failed", "refunded"
STATUSES = (PENDING, SUCCEEDED, DECLINED, FAILED, REFUNDED)

# The only moves a payment makes. pending: claimed, the bank's answer not known yet;
# only a succeeded charge can be refunded; the other ends are final.
TRANSITIONS: dict[str, frozenset[str]] = {
    PENDING: frozenset({SUCCEEDED, DECLINED, FAILED}),
    SUCCEEDED: frozenset({REFUNDED}),
    DECLINED: frozenset(),
    FAILED: frozenset(),
    REFUNDED: frozenset(),
}


class InvalidTransition(Exception):
    def __init__(self, current: str, wanted: str) -> None:
        super().__init__(f"A {current} payment cannot become {wanted}.")
        self.current = current
        self.wanted = wanted


def check_transition(current: str, wanted: str) -> None:
    if wanted not in TRANSITIONS[current]:
        raise InvalidTransition(current, wanted)


def card_problems(number: str, exp_month: int, exp_year: int, cvc: str, today: date) -> dict[str, str]:
    """Field -> reason for every problem with the card (empty when it may be charged)."""
    problems: dict[str, str] = {}
    if not number_ok(number):
        problems["card.number"] = "Not a valid card number."
    if not 1 <= exp_month <= 12:
        problems["card.exp_month"] = "Month must be 1 to 12."
    elif expired(exp_month, exp_year, today):
        problems["card.exp_year"] = "The card has expired."
    if not cvc_ok(cvc):
        problems["card.cvc"] = "The security code is 3 or 4 digits."
    return problems

