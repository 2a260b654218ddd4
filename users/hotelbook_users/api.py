"""HTTP endpoints: translate requests to account operations (actions) and back."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from hotelbook_chassis import Blueprint, current_user_id
from hotelbook_users import actions
from hotelbook_users.models import User
from hotelbook_users.schemas import (
    Accepted,
    CredentialsIn,
    CredentialsOut,
    PatchMeIn,
    ResetConfirmIn,
    ResetRequestIn,
    SignUpIn,
    TokenIn,
    UserOut,
)

blp = Blueprint("users", __name__, description="Accounts, credentials, e-mail verification, password reset")


@blp.post("/users")
@blp.requires("users:create")
@blp.arguments(SignUpIn)
@blp.response(202, Accepted)
def sign_up(body: dict[str, Any]) -> dict[str, str]:
    """Sign up (the booking UI's sign-up). The answer is the same whether the address is new or
    already has an account, so sign-up cannot tell who has one: a new account gets a
    verification link, the owner of an existing one a note saying someone tried (their
    account is left as it is). Both paths hash the password and send one message."""
    return actions.sign_up(body)


@blp.post("/credentials/verify")
@blp.requires("users:verify")
@blp.arguments(CredentialsIn)
@blp.response(200, CredentialsOut)
def verify_credentials(body: dict[str, Any]) -> dict[str, Any]:
    """Check a password (auth's login). Same shape and cost whether the e-mail is unknown or the password wrong."""
    return actions.verify_credentials(body)


@blp.route("/users/me")
class Me(MethodView):
    @blp.requires("guest")
    @blp.response(200, UserOut)
    def get(self) -> User:
        """The guest's own account."""
        return actions.user_or_404(current_user_id())

    @blp.requires("guest")
    @blp.arguments(PatchMeIn)
    @blp.response(200, UserOut)
    def patch(self, body: dict[str, Any]) -> User:
        """Change name, e-mail (verified again; the old address is told) or password; both need current_password."""
        return actions.update_account(current_user_id(), body)

    @blp.requires("guest")
    @blp.response(204)
    def delete(self) -> None:
        """Delete the guest's account; every session of it ends."""
        actions.delete_account(current_user_id())


@blp.post("/users/me/verification-email")
@blp.requires("guest")
@blp.response(202, Accepted)
def resend_verification() -> dict[str, str]:
    """Mail the verification link again."""
    return actions.resend_verification(current_user_id())


@blp.get("/users/<user_id>")
@blp.requires("users:read")
@blp.response(200, UserOut)
def get_user(user_id: str) -> User:
    """Any account, for services with users:read (payments needs the e-mail)."""
    return actions.user_or_404(user_id)


@blp.post("/email-verifications")
@blp.arguments(TokenIn)
@blp.response(200, UserOut)
def verify_email(body: dict[str, Any]) -> User:
    """Use the link mailed at sign-up; it works once."""
    return actions.verify_email(body)


@blp.post("/password-resets")
@blp.arguments(ResetRequestIn)
@blp.response(202, Accepted)
def request_reset(body: dict[str, Any]) -> dict[str, str]:
    """Mail a reset link; the answer is the same whether the address has an account or not."""
    return actions.request_reset(body)


@blp.post("/password-resets/confirm")
@blp.arguments(ResetConfirmIn)
@blp.response(200, UserOut)
def confirm_reset(body: dict[str, Any]) -> User:
    """Set a new password with a reset link; it works once."""
    return actions.confirm_reset(body)
