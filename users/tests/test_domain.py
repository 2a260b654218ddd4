import pytest

from hotelbook_users.domain import InvalidEmail, normalise_email, password_problem


def test_email_normalised():
    assert normalise_email(" Zoe.Nunez+trips@Example.TEST ") == "zoe.nunez+trips@example.test"
    for bad in ("no-at-sign", "a@", "@b.test", "a b@c.test"):
        with pytest.raises(InvalidEmail):
            normalise_email(bad)


@pytest.mark.parametrize("password", ["short", "password1234", "Password2026!", "qwertyuiop123", "aaaaaaaaaaaaa",
                                      "123456789012", "iloveyou1234", "zoe.nunez2026x"])
def test_weak_passwords_refused(password):
    assert password_problem(password, email="zoe.nunez@example.test", name="Zoë") is not None


def test_strong_password_accepted():
    assert password_problem("correct horse battery staple") is None
