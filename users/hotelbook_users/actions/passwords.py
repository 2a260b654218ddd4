"""Password hashing with argon2id (argon2-cffi), with a constant-cost path for unknown accounts."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Flask, current_app


class Passwords:
    def __init__(self, time_cost: int, memory_cost: int, parallelism: int) -> None:
        self.hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)
        # Verifying against this when the e-mail is unknown makes both answers cost the same.
        self._dummy = self.hasher.hash("not a password of anyone")

    def hash(self, password: str) -> str:
        return self.hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        try:
            return self.hasher.verify(stored or self._dummy, password) and stored is not None
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        return self.hasher.check_needs_rehash(stored)


def init_passwords(app: Flask) -> None:
    app.extensions["users_passwords"] = Passwords(
        app.config["ARGON2_TIME_COST"], app.config["ARGON2_MEMORY_COST"], app.config["ARGON2_PARALLELISM"]
    )


def passwords() -> Passwords:
    return current_app.extensions["users_passwords"]
