"""The checks the chassis offers every service: models match migrations, the OpenAPI document is valid."""

from hotelbook_chassis.service_tests import (  # noqa: F401
    test_models_and_migrations_agree,
    test_openapi_document_is_valid,
)
