"""Sign up, log in / log out (authorization code + PKCE), e-mail verification, password reset."""

from __future__ import annotations

import base64
import json
import logging
import re
import secrets
import time

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from hotelbook_chassis.pkce import new_code_verifier, s256
from hotelbook_ui.actions.guest import end_session, store_tokens
from hotelbook_ui.clients import PeerError, PeerUnavailable, peers
from hotelbook_ui.clients.oauth import OAuthError, auth_client
from hotelbook_ui.domain import safe_next

bp = Blueprint("account", __name__)
log = logging.getLogger("hotelbook.ui.account")
LOGIN_ATTEMPT_SECONDS = 600
ASK_TO_CHOOSE = "Choose a password."
TWO_ENTRIES_DIFFER = "The two passwords are not the same."
UNAVAILABLE = "Our account service is not answering right now. Please try again in a minute."


def _message(title: str, message: str, status: int = 200, tone: str = "info", **links: str):
    return render_template("message.html", title=title, message=message, tone=tone, links=links), status


def login_url() -> str:
    """The "Log in" link: back to the page the guest was on when a log-in started and was left for sign-up
    or a password reset (the login page links to those): the guest ends up where they began."""
    pending = session.get("oauth") or {}
    target = pending.get("next") if isinstance(pending, dict) else None
    return url_for("account.login", next=target) if target and target != "/" else url_for("account.login")


# A light check for a helpful message; users decides what it accepts.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _check_email(raw: str) -> tuple[str, str | None]:
    if _EMAIL.match(raw):
        return raw, None
    return raw, "Enter a valid e-mail address, like name@example.com."


# --- sign up ------------------------------------------------------------------------------------

@bp.route("/signup", methods=["GET", "POST"])
def signup() -> ResponseReturnValue:
    form = {"name": "", "email": ""}
    errors: dict[str, str] = {}
    error = None
    if request.method == "POST":
        form = {"name": (request.form.get("name") or "").strip()[:100],
                "email": (request.form.get("email") or "").strip()[:254]}
        password = request.form.get("password") or ""
        if not form["name"]:
            errors["name"] = "Enter your name."
        form["email"], email_error = _check_email(form["email"])
        if email_error:
            errors["email"] = email_error
        if not password:
            errors["password"] = ASK_TO_CHOOSE
        elif password != request.form.get("password_confirm"):
            errors["password_confirm"] = TWO_ENTRIES_DIFFER
        if not errors:
            try:
                peers().create_user(form["email"], form["name"], password)
            except PeerUnavailable:
                error = UNAVAILABLE
            except PeerError as problem:
                if problem.status == 409:
                    # An older users still says "taken": answer as for a new address all the same.
                    return render_template("signup_done.html", email=form["email"])
                if problem.status == 400 and problem.invalid_params:
                    for field in ("name", "email", "password"):
                        reason = problem.reason_for(field)
                        if reason:
                            errors[field] = reason
                    if not errors:
                        error = problem.detail or "Those details were not accepted."
                else:
                    error = UNAVAILABLE
            else:
                # The same page whether the address is new or has an account: sign-up must not tell
                # who has one (users mails the owner of a taken address instead).
                return render_template("signup_done.html", email=form["email"])
        status = 503 if error == UNAVAILABLE else (400 if errors or error else 200)
        return render_template("signup.html", form=form, errors=errors, error=error), status
    return render_template("signup.html", form=form, errors=errors, error=error)


# --- log in / log out -------------------------------------------------------------------------------

@bp.get("/login")
def login() -> ResponseReturnValue:
    """Start the authorization-code flow: state against CSRF on the callback, PKCE S256 against code theft."""
    state = secrets.token_urlsafe(32)
    verifier = new_code_verifier()
    session["oauth"] = {"state": state, "verifier": verifier, "next": safe_next(request.args.get("next")),
                        "started": time.time()}
    return redirect(auth_client().authorize_url(state, s256(verifier)))


def _unverified_sub(access_token: str) -> str | None:
    # Only a fallback for display when users is down: the token came straight from auth
    # over our own server-to-server call; the services verify it themselves.
    try:
        payload = access_token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))).get("sub")
    except (IndexError, ValueError):
        return None


@bp.get("/auth/callback")
def callback() -> ResponseReturnValue:
    attempt = session.pop("oauth", None)
    state = request.args.get("state") or ""
    if (not attempt or not secrets.compare_digest(state.encode(), str(attempt.get("state", "")).encode())
            or time.time() - float(attempt.get("started", 0)) > LOGIN_ATTEMPT_SECONDS):
        return _message("Log-in could not be completed",
                        "This log-in link is not valid any more. Please start again.", 400, "error",
                        login=url_for("account.login"))
    if request.args.get("error") == "access_denied":
        # "Back to Hotelbook" on the login page: to the page the guest left, not a dead end.
        flash("You did not log in. You can log in at any time.", "info")
        return redirect(safe_next(attempt.get("next")))
    if request.args.get("error"):
        return _message("Log-in cancelled", "You did not log in. You can try again at any time.", 400, "info",
                        login=url_for("account.login"))
    code = request.args.get("code")
    if not code:
        return _message("Log-in could not be completed", "No authorization code was received.", 400, "error",
                        login=url_for("account.login"))
    try:
        tokens = auth_client().exchange_code(code, attempt["verifier"])
    except PeerUnavailable:
        return _message("Log-in unavailable", "Our log-in service is not answering. Please try again shortly.",
                        503, "error", login=url_for("account.login"))
    except OAuthError:
        return _message("Log-in could not be completed",
                        "The log-in expired or was already used. Please start again.", 400, "error",
                        login=url_for("account.login"))
    try:
        user = peers().me(tokens["access_token"])
    except (PeerUnavailable, PeerError):
        user = {"id": _unverified_sub(tokens["access_token"]), "name": None, "email": None}
    session.regenerate()  # type: ignore[attr-defined]  # a new session id at login: no fixation
    store_tokens(tokens, user)
    return redirect(safe_next(attempt.get("next")))


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    tokens = session.get("tokens") or {}
    if tokens.get("refresh_token"):
        auth_client().revoke(tokens["refresh_token"])
    end_session()
    return redirect(url_for("pages.home", bye=1))


# --- e-mail verification and password reset (links mailed by users) ----------------------------------

@bp.route("/verify-email", methods=["GET", "POST"])
def verify_email() -> ResponseReturnValue:
    # The link only shows a button: mail scanners that prefetch links do not use the token up.
    token = (request.values.get("token") or "").strip()[:1000]
    if request.method == "GET" or not token:
        return render_template("verify_email.html", token=token, status=None), 200 if token else 400
    try:
        peers().verify_email(token)
    except PeerUnavailable:
        return render_template("verify_email.html", token=token, status="unavailable"), 503
    except PeerError as problem:
        if problem.status == 400:
            return render_template("verify_email.html", token="", status="invalid"), 400
        return render_template("verify_email.html", token=token, status="unavailable"), 503
    if session.get("tokens"):
        session["tokens"] = {**session["tokens"], "email_verified": True}
    return render_template("verify_email.html", token="", status="verified")


@bp.post("/verify-email/resend")
def resend_verification() -> ResponseReturnValue:
    from hotelbook_ui.api.booking import as_guest

    try:
        as_guest(lambda token: peers().resend_verification(token))
    except (PeerUnavailable, PeerError):
        flash(UNAVAILABLE, "error")
    else:
        flash("We sent you a new verification link.", "success")
    return redirect(safe_next(request.form.get("next")))


@bp.route("/forgot-password", methods=["GET", "POST"])
def forgot_password() -> ResponseReturnValue:
    email, errors, error = "", {}, None
    if request.method == "POST":
        email, email_error = _check_email((request.form.get("email") or "").strip()[:254])
        if email_error:
            errors["email"] = email_error
        else:
            try:
                peers().request_password_reset(email)
            except (PeerUnavailable, PeerError):
                error = UNAVAILABLE
            else:
                # Same answer whether or not the account exists.
                return _message("Check your inbox",
                                f"If an account exists for {email}, we have sent it a link to choose a new "
                                "password. The link works once and expires soon.", 202)
        return render_template("forgot_password.html", email=email, errors=errors, error=error), \
            503 if error else 400
    return render_template("forgot_password.html", email=email, errors=errors, error=error)


@bp.route("/reset-password", methods=["GET", "POST"])
def reset_password() -> ResponseReturnValue:
    token = (request.values.get("token") or "").strip()[:1000]
    errors: dict[str, str] = {}
    error = None
    if not token:
        return _message("This link is not valid", "Ask for a new password reset link.", 400, "error",
                        forgot=url_for("account.forgot_password"))
    if request.method == "POST":
        password = request.form.get("password") or ""
        if not password:
            errors["password"] = ASK_TO_CHOOSE
        elif password != request.form.get("password_confirm"):
            errors["password_confirm"] = TWO_ENTRIES_DIFFER
        if not errors:
            try:
                peers().confirm_password_reset(token, password)
            except PeerUnavailable:
                error = UNAVAILABLE
            except PeerError as problem:
                if problem.status == 400 and problem.reason_for("password"):
                    errors["password"] = problem.reason_for("password") or ""
                elif problem.status == 400:
                    return _message("This link is not valid any more",
                                    "The link was already used or has expired. Ask for a new one.", 400, "error",
                                    forgot=url_for("account.forgot_password"))
                else:
                    error = UNAVAILABLE
            else:
                return _message("Password changed", "Your new password is set. You can log in with it now.",
                                200, "success", login=login_url())
        return render_template("reset_password.html", token=token, errors=errors, error=error), \
            503 if error else 400
    return render_template("reset_password.html", token=token, errors=errors, error=error)
