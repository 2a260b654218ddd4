import re

import pytest

from hotelbook_chassis.smtp_sink import body_text
from hotelbook_chassis.testing import bearer
from hotelbook_users import create_app
from hotelbook_users.models import User, db

PASSWORD = "correct horse battery staple"


def link_token(message, page):
    """The token of the ``{PUBLIC_URL}/<page>?token=...`` link in a mailed message."""
    found = re.search(rf"http://ui\.test/{page}\?token=(\S+)", body_text(message))
    assert found, body_text(message)
    return found.group(1)


@pytest.fixture(scope="session")
def service_name():
    return "users"


@pytest.fixture(scope="session")
def app(service_config):
    # Cheap argon2 parameters keep the suite fast; production uses the defaults.
    return create_app({**service_config, "ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST": 1024,
                       "ARGON2_PARALLELISM": 1, "PUBLIC_URL": "http://ui.test"})


@pytest.fixture
def ui(token_factory):
    return bearer(token_factory("users:create", sub="booking-ui"))


@pytest.fixture
def auth(token_factory):
    return bearer(token_factory("users:verify", sub="auth"))


@pytest.fixture
def guest_of(token_factory):
    def make(user):
        return bearer(token_factory("guest", sub=user["id"]))

    return make


@pytest.fixture
def sign_up(client, ui, smtp_server, clean_db):
    """Sign up; on success the account as the guest sees it (sign-up itself answers only 202)."""

    def make(email="zoe@example.test", name="Zoë Ñúñez", password=PASSWORD, status=202):
        answer = client.post_json("/users", {"email": email, "name": name, "password": password}, headers=ui,
                                  status=status).json
        if status != 202:
            return answer
        assert answer == {"status": "accepted"}
        with clean_db.app_context():
            user = db.session.scalar(db.select(User).where(User.email == email.strip().lower()))
            return user.public()

    return make
