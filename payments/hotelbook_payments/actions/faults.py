"""Faults the reliability suite injects, loaded only when ``PAYMENTS_FAULT`` is set: never in production.

``exit-after-charge``: the process dies right after a successful bank charge, before payments
records it (the crash ``reconcile`` recovers from).
"""

from __future__ import annotations

import os
from typing import Any

from hotelbook_payments import clients


def install(fault: str) -> None:
    if fault != "exit-after-charge":
        return
    charge = clients.charge

    def charge_then_exit(*args: Any, **kwargs: Any) -> clients.BankOutcome:
        outcome = charge(*args, **kwargs)
        if outcome.kind == "succeeded":
            os._exit(137)  # a crash between the bank and our own commit
        return outcome

    clients.charge = charge_then_exit
