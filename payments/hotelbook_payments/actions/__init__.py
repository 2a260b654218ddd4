"""Paying for a reservation: claim the key, charge once, confirm, and converge after any failure.

Steps and what makes each safe to repeat:

1. *Claim*: a payment row keyed by (guest, Idempotency-Key) is committed first;
   the unique constraint lets one request in, duplicates replay its answer.
2. *Charge*: the bank is asked with the payment's id as its idempotency key, so
   asking again (a retry, ``reconcile`` after a crash) never charges twice.
3. *Confirm*: reservations' confirm is idempotent for the same payment. Its outbox
   job commits with the charge, leased to the request that charged: the job confirms
   when reservations could not be reached or the process died before it could; when
   the hold has expired meanwhile (409), the charge is refunded.
4. *Receipt mail*: an outbox job, so a mail outage only delays it.

One module per job: ``claims`` (1), ``charge`` (2, 3 and refunds), ``outbox`` and ``worker``
(4), ``mail`` (the receipt's text), ``reconcile`` (converging), ``payment`` (a row's status
moves and stored answer), ``faults`` (the reliability suite's crash, never loaded in production).
"""

from hotelbook_payments.actions.charge import refund
from hotelbook_payments.actions.claims import pay
from hotelbook_payments.actions.outbox import drain
from hotelbook_payments.actions.payment import payment_out
from hotelbook_payments.actions.reconcile import reconcile

__all__ = ["drain", "pay", "payment_out", "reconcile", "refund"]
