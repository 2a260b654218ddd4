"""Housekeeping rounds: one at a time across processes, run in the service's own process."""

from __future__ import annotations

import threading

from conftest import db

from hotelbook_chassis.housekeeping import lease, run_once, start_periodic


def test_lease_is_exclusive_and_released(app):
    with app.app_context():
        with lease(db, "sweep") as first:
            assert first is True
            with lease(db, "sweep") as second:  # another holder (its own connection or file)
                assert second is False
            with lease(db, "other-job") as other:  # leases of other jobs are independent
                assert other is True
        with lease(db, "sweep") as again:
            assert again is True


def test_run_once_skips_while_another_round_holds_the_lease(app):
    calls = []
    with app.app_context(), lease(db, "reconcile") as held:
        assert held
        assert run_once(app, db, "reconcile", lambda: calls.append(1)) == (False, None)
    assert calls == []
    assert run_once(app, db, "reconcile", lambda: "done") == (True, "done")


def test_periodic_rounds_run_until_stopped(app):
    rounds = threading.Semaphore(0)

    def task() -> None:
        rounds.release()
        raise RuntimeError("a failing round does not end the loop")

    stop = start_periodic(app, db, "tick", 0.01, task)
    try:
        assert rounds.acquire(timeout=10)
        assert rounds.acquire(timeout=10)
    finally:
        stop.set()
