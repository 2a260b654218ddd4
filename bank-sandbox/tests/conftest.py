import pytest

from hotelbook_bank import create_app


@pytest.fixture(scope="session")
def service_name():
    return "bank"


@pytest.fixture(scope="session")
def app(service_config):
    return create_app({**service_config, "BANK_SLOW_SECONDS": 0.2})


@pytest.fixture
def bank_app(clean_db):
    """The migrated sandbox with empty tables (SQLite, or PostgreSQL with TEST_DATABASE_URL)."""
    return clean_db
