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
# Look-alike characters inside a word ("p@ssw0rd") fool no cracker's rules either.
_LOOKALIKES = {"0": "o", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i", "|": "l", "+": "t"}
_DELEET = (str.maketrans({**_LOOKALIKES, "1": "i"}), str.maketrans({**_LOOKALIKES, "1": "l"}))
_INNER = re.compile(r"[a-z@$].*[a-z]")  # from the first to the last letter-like character


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


def _is_common(lowered: str) -> bool:
    candidates = {lowered}
    inner = _INNER.search(lowered)
    if inner:
        candidates.update(inner.group().translate(table) for table in _DELEET)
    for candidate in list(candidates):
        stem = _DRESSING.match(candidate)
        if stem:
            candidates.add(stem["stem"])
    return not candidates.isdisjoint(common_passwords())


def password_problem(password: str, *, email: str = "", name: str = "") -> str | None:
    """Why a password is refused, or None when it is acceptable."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Use at least {MIN_PASSWORD_LENGTH} characters."
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"Use at most {MAX_PASSWORD_LENGTH} characters."
    lowered = password.lower()
    if _is_common(lowered):
        return "This password is too common; choose another."
    if len(set(lowered)) < 4:
        return "This password repeats too few characters."
    local = email.split("@")[0].lower()
    if (len(local) >= 4 and local in lowered) or (len(name) >= 4 and name.lower() in lowered):
        return "Do not build the password from your e-mail address or name."
    return None
