"""``/oauth/authorize``: the login page of the authorization-code flow.

The OAuth parameters stay in the page's URL (the form posts back to it) and Authlib validates
them again on POST, so nothing hidden in the form can widen the request. Errors found before
the client and its redirect URI are trusted are shown here, never redirected.
"""

from __future__ import annotations

import logging
from typing import Any

from authlib.oauth2.rfc6749.errors import OAuth2Error
from flask import Blueprint, Response, g, make_response, render_template, request
from flask_wtf import FlaskForm
from flask_wtf.csrf import ValidationError, validate_csrf
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from hotelbook_auth.actions import throttle
from hotelbook_auth.actions.keys import NoSigningKey
from hotelbook_auth.actions.oauth import Guest, now_ms, oauth_server
from hotelbook_auth.clients import users
from hotelbook_chassis.client import PeerUnavailable

log = logging.getLogger("hotelbook.auth.login")
bp = Blueprint("login", __name__, template_folder="templates")

BAD_CREDENTIALS = "The e-mail address or password is incorrect."
UNAVAILABLE = "We cannot check your password right now. Please try again in a moment."


class LoginForm(FlaskForm):
    email = EmailField("E-mail address", validators=[DataRequired(), Length(max=320)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


def _page(template: str, status: int, **context: Any) -> Response:
    response = make_response(render_template(template, **context), status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"  # no clickjacking of the password form
    # No form-action: browsers apply it to the redirect to the client's (other) origin too.
    # The site's stylesheet and icon come from this app (the chassis theme), nothing else.
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'"
    )
    # same-origin: Flask-WTF's HTTPS referrer check still works, the client gets no URL with state in it.
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def _invalid_request(error: OAuth2Error) -> Response:
    if error.redirect_uri:
        # The client and its redirect URI are known good: tell the client (RFC 6749 4.1.2.1).
        if not error.description:
            error.description = error.get_error_description() or error.error
        return oauth_server().handle_error_response(None, error)
    return _page("error.html", 400, title="This log-in link is not valid",
                 detail=error.description or "The application sent an invalid log-in request.")


@bp.route("/oauth/authorize", methods=["GET", "POST"])
def authorize() -> Any:
    try:
        grant = oauth_server().get_consent_grant(end_user=None)
    except OAuth2Error as error:
        return _invalid_request(error)
    except (ValueError, UnicodeError):  # hostile parameters Authlib cannot even describe
        return _page("error.html", 400, title="This log-in link is not valid",
                     detail="The application sent an invalid log-in request.")
    client = grant.client
    action = request.full_path if request.query_string else request.path
    form = LoginForm()
    # What the page shows and links to: the client's name and its own registered pages.
    shown = {"action": action, "client_name": client.shown_name, "signup_uri": client.signup_uri,
             "password_reset_uri": client.password_reset_uri}
    if request.method == "GET":
        return _page("login.html", 200, form=form, **shown)
    if request.form.get("cancel"):
        return _cancel(grant, form, shown)
    if not form.validate_on_submit():
        expired = "csrf_token" in form.errors
        message = ("This page expired. Please enter your details again." if expired
                   else "Please enter your e-mail address and password.")
        return _page("login.html", 400, form=form, error=message, **shown)
    # Locked after too many failures (this account, or from this address): the password is not
    # even checked. The same for an address with or without an account.
    counters, account = throttle.keys_for(form.email.data)
    wait = throttle.wait_seconds(counters)
    if wait:
        log.info("login throttled for %d s (client %s)", wait, grant.client.client_id)
        response = _page("login.html", 429, form=form, error=throttle.message(wait), **shown)
        response.headers["Retry-After"] = str(wait)
        return response
    g.login_started_ms = now_ms()
    try:
        user = users().verify(form.email.data.strip(), form.password.data)
    except (PeerUnavailable, NoSigningKey):
        return _page("login.html", 503, form=form, error=UNAVAILABLE, **shown)
    if user is None:
        log.info("failed login for client %s", grant.client.client_id)  # never the e-mail or password
        throttle.record_failure(counters)
        # Same page, same status whether or not the e-mail address exists.
        return _page("login.html", 200, form=form, error=BAD_CREDENTIALS, **shown)
    log.info("guest logged in for client %s", grant.client.client_id)
    throttle.record_success(counters)
    response = oauth_server().create_authorization_response(grant=grant, grant_user=Guest(str(user["id"])))
    throttle.remember_device(response, account)
    return response


def _cancel(grant: Any, form: LoginForm, shown: dict[str, Any]) -> Response:
    """The guest declines ("Back to <client>"): the client hears access_denied with its state
    (RFC 6749 4.1.2.1) at its registered redirect URI, the only place this page sends anyone."""
    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError:
        return _page("login.html", 400, form=form, error="This page expired. Please try again.", **shown)
    log.info("log-in declined for client %s", grant.client.client_id)
    return oauth_server().create_authorization_response(grant=grant, grant_user=None)
