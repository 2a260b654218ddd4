"""Use cases of users: sign-up, credentials, the account, e-mail verification, password reset.

In the package: signed links (``links``), the e-mails (``mailer``), password hashing
(``passwords``) and the session-revocation outbox (``revocations``).
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from hotelbook_chassis import Problem
from hotelbook_chassis.clock import utcnow
from hotelbook_chassis.database import get_or_404
from hotelbook_chassis.problems import invalid
from hotelbook_users.actions import links, mailer, revocations
from hotelbook_users.actions.passwords import passwords
from hotelbook_users.domain import InvalidEmail, normalise_email, password_problem
from hotelbook_users.models import User, db


def check_password(password: str, email: str, name: str) -> None:
    problem = password_problem(password, email=email, name=name)
    if problem:
        raise invalid("password", problem)


def send_verification(user: User) -> bool:
    token = links.make(links.VERIFY, {"uid": user.id, "email": user.email})
    return mailer.send_verification(user.email, user.name, links.link("verify-email", token))


def user_or_404(user_id: str) -> User:
    return get_or_404(User, user_id, "No such user.")


def email_taken() -> Problem:
    return Problem(409, "An account with this e-mail address exists already.", type="email-taken",
                   invalid_params=[{"name": "email", "reason": "already registered"}])



def sign_up(body: dict[str, Any]) -> dict[str, str]:
    """A new account gets a verification link, the owner of an existing one a note; the answer is the same."""
    check_password(body["password"], body["email"], body["name"])
    user = User(email=body["email"], name=body["name"], password_hash=passwords().hash(body["password"]),
                email_verified=False, created_at=utcnow())
    db.session.add(user)
    try:
        db.session.commit()  # the unique index decides, not a prior SELECT
    except IntegrityError:
        db.session.rollback()
        owner = db.session.scalar(select(User).where(User.email == body["email"]))
        if owner is not None:
            mailer.send_signup_attempt(owner.email, owner.name, links.page("forgot-password"))
        return {"status": "accepted"}
    send_verification(user)
    return {"status": "accepted"}


def verify_credentials(body: dict[str, Any]) -> dict[str, Any]:
    """Same shape and cost whether the e-mail is unknown or the password wrong; rehashes on an old cost."""
    try:
        email = normalise_email(body["email"])
    except InvalidEmail:
        email = None
    user = db.session.scalar(select(User).where(User.email == email)) if email else None
    if not passwords().verify(user.password_hash if user else None, body["password"]) or user is None:
        return {"valid": False, "user": None}
    if passwords().needs_rehash(user.password_hash):
        user.password_hash = passwords().hash(body["password"])
        db.session.commit()
    return {"valid": True, "user": user.public()}


def update_account(user_id: str, body: dict[str, Any]) -> User:
    """Name, e-mail (verified again; the old address is told) or password; the last two need the current one."""
    user = user_or_404(user_id)
    old_email = user.email
    changed_email = "email" in body and body["email"] != user.email
    # A stolen or borrowed access token alone must not move the account to another mailbox
    # (and then reset its password there), nor set a new password: both need the current one.
    if ("password" in body or changed_email) and not passwords().verify(
            user.password_hash, body.get("current_password") or ""):
        raise invalid("current_password", "Enter your current password to change your e-mail address "
                                          "or password." if not body.get("current_password")
                      else "The current password is not right.")
    if "password" in body:
        check_password(body["password"], body.get("email", user.email), body.get("name", user.name))
        user.password_hash = passwords().hash(body["password"])
    if "name" in body:
        user.name = body["name"]
    if changed_email:
        user.email, user.email_verified = body["email"], False
    # New credentials end every session, this one included (committed with the change).
    signals = (revocations.queue(user.id, "password-changed" if "password" in body else "email-changed")
               if "password" in body or changed_email else [])
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise email_taken() from None
    revocations.deliver_now(signals)
    if changed_email:
        send_verification(user)
        # The old mailbox hears of it: if the change was not its owner's doing, they know.
        mailer.send_email_changed(old_email, user.name, user.email)
    return user


def delete_account(user_id: str) -> None:
    """Delete the account; every session of it ends."""
    user = user_or_404(user_id)
    signals = revocations.queue(user.id, "account-deleted")
    db.session.delete(user)
    db.session.commit()
    revocations.deliver_now(signals)


def resend_verification(user_id: str) -> dict[str, str]:
    user = user_or_404(user_id)
    if not user.email_verified:
        send_verification(user)
    return {"status": "accepted"}


def verify_email(body: dict[str, Any]) -> User:
    """Use the link mailed at sign-up; it works once."""
    payload = links.read(links.VERIFY, body["token"], current_app.config["VERIFY_LINK_SECONDS"])
    user = db.session.get(User, str(payload.get("uid", "")))
    if user is None or user.email != payload.get("email") or user.email_verified:
        raise invalid("token", "This link was used already or is no longer valid.")
    user.email_verified = True
    db.session.commit()
    return user


def request_reset(body: dict[str, Any]) -> dict[str, str]:
    """Mail a reset link; the answer is the same whether the address has an account or not."""
    try:
        email = normalise_email(body["email"])
    except InvalidEmail:
        email = None
    user = db.session.scalar(select(User).where(User.email == email)) if email else None
    if user is not None:
        token = links.make(links.RESET, {"uid": user.id, "email": user.email,
                                         "fp": links.fingerprint(user.password_hash)})
        # Sent off the request thread: an SMTP round trip only for known addresses would
        # tell a stopwatch which addresses have accounts.
        mailer.send_reset_later(user.email, user.name, links.link("reset-password", token))
    return {"status": "accepted"}


def confirm_reset(body: dict[str, Any]) -> User:
    """Set a new password with a reset link; it works once."""
    payload = links.read(links.RESET, body["token"], current_app.config["RESET_LINK_SECONDS"])
    user = db.session.get(User, str(payload.get("uid", "")))
    # Dead once the password changed (used, or changed another way) or the address moved on:
    # the link proves control of the mailbox it was sent to, not of the new one.
    if (user is None or links.fingerprint(user.password_hash) != payload.get("fp")
            or user.email != payload.get("email")):
        raise invalid("token", "This link was used already or is no longer valid.")
    check_password(body["password"], user.email, user.name)
    user.password_hash = passwords().hash(body["password"])
    # Reading the mailbox proves the address too.
    user.email_verified = True
    # Whoever knew the old password (or signed up first with this address) is logged out everywhere.
    signals = revocations.queue(user.id, "password-reset")
    db.session.commit()
    revocations.deliver_now(signals)
    return user
