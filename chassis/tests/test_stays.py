"""The tax included in a price: integer minor units, exact decimals, half to even."""

import pytest

from hotelbook_chassis.stays import tax_included


@pytest.mark.parametrize(("gross", "rate", "tax"), [
    (1038, "3.8", 38),            # exactly 3.8 % of a net 1000
    (36000, "10", 3273),          # 3272.73 -> 3273
    (11700, "7", 765),            # 765.42 -> 765
    (3, "20", 0), (9, "20", 2),   # 0.5 -> 0 and 1.5 -> 2: halves go to the even neighbour
    (15, "20", 2), (21, "20", 4),  # 2.5 -> 2, 3.5 -> 4
    (0, "25", 0),
    (12345, "0", 0),
    (10**12, "13.5", 118942731278),  # no float drift on large amounts
])
def test_tax_included(gross, rate, tax):
    assert tax_included(gross, rate) == tax
    assert 0 <= gross - tax <= gross


@pytest.mark.parametrize("rate", ["abc", "-1", "100", "NaN", "Infinity", ""])
def test_a_rate_is_a_percentage(rate):
    with pytest.raises(ValueError):
        tax_included(1000, rate)
