"""Business metrics of payments, next to the chassis' per-route ones on /metrics."""

from prometheus_client import Counter, Gauge

OUTCOMES = ("succeeded", "declined", "failed")
PAYMENTS = Counter("hotelbook_payments_total", "Payments by outcome at the bank", ["outcome"])
for _outcome in OUTCOMES:  # present from the start, so rate() sees the first one
    PAYMENTS.labels(_outcome)
REFUNDS = Counter("hotelbook_refunds_total", "Payments refunded at the bank")
# Every worker process measures the same table: the highest live value is the answer.
OUTBOX_LAG = Gauge("hotelbook_outbox_lag_seconds", "Age of the oldest unfinished outbox job (0 when none)",
                   multiprocess_mode="livemax")
OUTBOX_PENDING = Gauge("hotelbook_outbox_pending_jobs", "Outbox jobs not done yet", multiprocess_mode="livemax")


def count_status(status: str) -> None:
    """Count a payment reaching a final status."""
    if status in OUTCOMES:
        PAYMENTS.labels(status).inc()
    elif status == "refunded":
        REFUNDS.inc()
