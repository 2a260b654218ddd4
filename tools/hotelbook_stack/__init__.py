"""Run the whole hotelbook system: the process table, bootstrap steps and readiness.

Used by ``make up`` (through honcho and the ``Procfile``) and by the cross-service
tests, so the system the tests start is the system a developer runs.
"""
