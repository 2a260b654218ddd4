"""The check the chassis offers every service (pdf-reporting has no database): the OpenAPI document is valid."""

from hotelbook_chassis.service_tests import test_openapi_document_is_valid  # noqa: F401
