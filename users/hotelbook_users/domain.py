"""Account rules in plain Python: e-mail addresses and password strength."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from email_validator import EmailNotValidError, validate_email

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256
# A common word dressed up with digits and symbols ("Password2026!") is still common.
_DRESSING = re.compile(r"^[^a-z]*(?P<stem>[a-z]+?)[^a-z]*$")


class InvalidEmail(ValueError):
    pass


def normalise_email(address: str) -> str:
    """A syntactically valid address, lower-cased so one mailbox has one account.

    Addresses under the reserved ``.test`` domain are accepted: development and
    the test suites use them, and they can never reach a real mailbox.
    """
    try:
        return validate_email(address.strip(), check_deliverability=False,
                              test_environment=True).normalized.lower()
    except EmailNotValidError as error:
        raise InvalidEmail(str(error)) from error


@cache
def common_passwords() -> frozenset[str]:
    text = (Path(__file__).parent / "common_passwords.txt").read_text()
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def password_problem(password: str, *, email: str = "", name: str = "") -> str | None:
    """Why a password is refused, or None when it is acceptable."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Use at least {MIN_PASSWORD_LENGTH} characters."
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"Use at most {MAX_PASSWORD_LENGTH} characters."
    lowered = password.lower()
    stem = _DRESSING.match(lowered)
    if lowered in common_passwords() or (stem and stem["stem"] in common_passwords()):
        return "This password is too common; choose another."
    if len(set(lowered)) < 4:
        return "This password repeats too few characters."
    local = email.split("@")[0].lower()
    if (len(local) >= 4 and local in lowered) or (len(name) >= 4 and name.lower() in lowered):
        return "Do not build the password from your e-mail address or name."
    return None
