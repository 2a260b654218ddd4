"""The test cards and what the sandbox does with each (see the package docstring)."""

from __future__ import annotations

DECLINES = {"4000000000000002": "card_declined", "4000000000009995": "insufficient_funds"}
BANK_ERROR, SLOW = "4000000000000119", "4000000000000259"
