from datetime import date

import pytest

from hotelbook_payments.domain import brand, card_problems, luhn_ok

TODAY = date(2026, 11, 23)


def test_luhn():
    assert luhn_ok("4242424242424242")
    assert luhn_ok("4000000000000002")
    assert not luhn_ok("4242424242424241")


@pytest.mark.parametrize("number, month, year, cvc, fields", [
    ("4242424242424241", 12, 2030, "123", {"card.number"}),
    ("4242424242424242", 10, 2026, "123", {"card.exp_year"}),
    ("4242424242424242", 13, 2030, "123", {"card.exp_month"}),
    ("4242424242424242", 12, 2030, "12a", {"card.cvc"}),
    ("42424242", 12, 2030, "12", {"card.number", "card.cvc"}),
])
def test_card_problems(number, month, year, cvc, fields):
    assert set(card_problems(number, month, year, cvc, TODAY)) == fields


def test_valid_card_and_brand():
    assert card_problems("4242424242424242", 11, 2026, "1234", TODAY) == {}
    assert brand("4242424242424242") == "visa"
    assert brand("5555555555554444") == "mastercard"
    assert brand("378282246310005") == "amex"
