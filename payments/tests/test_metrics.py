"""Business metrics of payments and the outbox, and the trace context an outbox job keeps."""

from datetime import datetime, timedelta

import requests
import responses
from prometheus_client import REGISTRY
from sqlalchemy import select, update

from hotelbook_chassis.testing import bearer
from tests.conftest import CARD, RESERVATION_ID, RESERVATIONS
from tests.test_payments import pay, peers  # noqa: F401 (fixture)

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_payments_are_counted_by_outcome_and_refunds_apart(client, guest, peers, token_factory):  # noqa: F811
    before = {outcome: value("hotelbook_payments_total", outcome=outcome)
              for outcome in ("succeeded", "declined", "failed")}
    refunds = value("hotelbook_refunds_total")
    paid = pay(client, guest(), key="metrics-paid-1").json
    pay(client, guest(), key="metrics-declined-1", card={**CARD, "number": "4000000000000002"}, status=402)
    pay(client, guest(), key="metrics-failed-1", card={**CARD, "number": "4000000000000119"}, status=502)
    service = bearer(token_factory("payments:refund", sub="reservations"))
    client.post(f"/payments/{paid['id']}/refund", headers=service)
    client.post(f"/payments/{paid['id']}/refund", headers=service)  # idempotent: counted once
    for outcome in ("succeeded", "declined", "failed"):
        assert value("hotelbook_payments_total", outcome=outcome) == before[outcome] + 1, outcome
    assert value("hotelbook_refunds_total") == refunds + 1
    assert 'hotelbook_payments_total{outcome="declined"}' in client.get("/metrics").text


def test_outbox_job_keeps_the_trace_and_its_lag_is_measured(client, guest, peers, app):  # noqa: F811
    from hotelbook_payments.actions import reconcile
    from hotelbook_payments.actions.metrics import OUTBOX_LAG, OUTBOX_PENDING
    from hotelbook_payments.actions.worker import measure_outbox
    from hotelbook_payments.models import OutboxJob, db

    peers.replace(responses.POST, f"{RESERVATIONS}/reservations/{RESERVATION_ID}/confirm",
                  body=requests.ConnectionError())
    answer = client.post_json("/payments", {"reservation_id": RESERVATION_ID, "card": CARD},
                              headers={**guest(), "Idempotency-Key": "metrics-outbox-1", "traceparent": TRACEPARENT}
                              ).json
    with app.app_context():
        job = db.session.scalar(select(OutboxJob).where(OutboxJob.payment_id == answer["id"]))
        assert (job.kind, job.traceparent) == ("confirm", TRACEPARENT)
        # Written ten minutes ago and still not done: that is the lag.
        db.session.execute(update(OutboxJob).where(OutboxJob.id == job.id)
                           .values(created_at=datetime.utcnow() - timedelta(minutes=10)))
        db.session.commit()
        measure_outbox()
        assert OUTBOX_LAG._value.get() >= 600
        assert OUTBOX_PENDING._value.get() >= 1
    peers.replace(responses.POST, f"{RESERVATIONS}/reservations/{RESERVATION_ID}/confirm",
                  json={"id": RESERVATION_ID, "status": "confirmed"})
    with app.app_context():
        reconcile()
        measure_outbox()
        assert OUTBOX_LAG._value.get() < 600
    assert "hotelbook_outbox_lag_seconds" in client.get("/metrics").text
