"""Tests every service runs against itself, offered by the chassis next to its pytest plugin.

A service takes them with one import in a test module (pytest collects imported test
functions), using the plugin's ``migrated_app`` and ``client`` fixtures::

    from hotelbook_chassis.service_tests import (  # noqa: F401
        test_models_and_migrations_agree,
        test_openapi_document_is_valid,
    )

A service without a database (pdf-reporting) takes only the OpenAPI test.
"""

from __future__ import annotations

from typing import Any


def test_models_and_migrations_agree(migrated_app: Any) -> None:
    """Every model change has its Alembic revision: autogenerate against the migrated database finds nothing."""
    from alembic import command

    from hotelbook_chassis.migrations import alembic_config

    with migrated_app.app_context():
        command.check(alembic_config(migrated_app))  # raises when a model change has no revision


def test_openapi_document_is_valid(client: Any) -> None:
    """``/openapi.json`` is a valid OpenAPI document."""
    from openapi_spec_validator import validate

    validate(client.get("/openapi.json").json)
