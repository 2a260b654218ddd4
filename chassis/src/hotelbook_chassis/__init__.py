"""The shared chassis every hotelbook service is built on.

A service calls :func:`create_service_app` and gets, without writing them again:
JSON logs with request ids, RFC 9457 problem+json errors, ``/healthz``,
``/readyz``, ``/metrics``, ``/openapi.json``, database setup and migrations,
bearer-token verification, and outbound clients for its peers.
"""

from hotelbook_chassis.app import create_service_app
from hotelbook_chassis.blueprint import Blueprint
from hotelbook_chassis.problems import Problem
from hotelbook_chassis.tokens import current_claims, current_user_id, require_scope

__all__ = [
    "Blueprint",
    "Problem",
    "create_service_app",
    "current_claims",
    "current_user_id",
    "require_scope",
]
