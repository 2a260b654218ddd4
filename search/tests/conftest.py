import pytest

from hotelbook_search import create_app


@pytest.fixture(scope="session")
def service_name():
    return "search"


@pytest.fixture(scope="session")
def app(service_config):
    return create_app(service_config)
