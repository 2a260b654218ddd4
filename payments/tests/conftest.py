import pytest

from hotelbook_bank import create_app as create_bank
from hotelbook_chassis.testing import bearer
from hotelbook_payments import create_app

BANK = "http://bank.test"
RESERVATIONS = "http://reservations.test"
USERS = "http://users.test"
RESERVATION_ID = "7a0f7bd2-3c1e-4f57-8a3e-0c9e5b1d2a11"
CARD = {"number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": 2099, "cvc": "123", "holder": "Zoë Ñúñez"}


@pytest.fixture(scope="session")
def service_name():
    return "payments"


@pytest.fixture(scope="session")
def app(service_config):
    return create_app({**service_config, "BANK_URL": BANK, "RESERVATIONS_URL": RESERVATIONS, "USERS_URL": USERS,
                       "BANK_TIMEOUT": 1.0})


@pytest.fixture(scope="session")
def bank_app(tmp_path_factory):
    from hotelbook_chassis.migrations import upgrade

    folder = tmp_path_factory.mktemp("bank")
    bank = create_bank({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/bank.db",
                        "SECRET_KEY": "bank-test", "BANK_SLOW_SECONDS": 0.2, "VAR_DIR": str(folder)})
    upgrade(bank)
    return bank


@pytest.fixture
def guest(token_factory):
    def make(sub="guest-1"):
        return bearer(token_factory("guest", sub=sub))

    return make


def reservation(status="held", user_id="guest-1", amount=24000):
    return {"id": RESERVATION_ID, "user_id": user_id, "status": status,
            "total": {"amount": amount, "currency": "EUR"}, "hold_expires_at": "2099-01-01T00:00:00Z",
            "payment_id": None}
