import pytest

from hotelbook_users.domain import InvalidEmail, common_passwords, normalise_email, password_problem


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


@pytest.mark.parametrize("password", ["P@ssw0rd2026!", "$unsh1ne12345", "l3tme1n!!!!!!", "M0nk3y-2026-06",
                                      "1q2w3e4r5t6y", "qwertyuiopasdfghjkl", "Passwordpassword"])
def test_common_passwords_in_disguise_refused(password):
    assert password_problem(password) == "This password is too common; choose another."


@pytest.mark.parametrize("password", ["Tr0ub4dor&3xyz", "mountain-lake-pebble", "j7#kQ9!mZp2w", "w1nter1sc0m1ng"])
def test_uncommon_passwords_accepted(password):
    assert password_problem(password, email="zoe@example.test", name="Zoë") is None


def test_the_shipped_list_is_clean_data():
    words = common_passwords()
    assert 500 <= len(words) <= 5000
    assert all(word == word.strip().lower() and word for word in words)
    assert {"password", "123456789012", "iloveyou", "qwertyuiop"} <= words
