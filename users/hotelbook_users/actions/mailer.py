"""The two messages users sends. A mail outage is logged, never turned into a failed request."""

from __future__ import annotations

import atexit
import logging
import smtplib
import threading
from concurrent.futures import Future, ThreadPoolExecutor

from hotelbook_chassis.mail import SmtpSettings, build_message, send_mail
from hotelbook_chassis.tracing import run_in_thread_context

log = logging.getLogger(__name__)

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _background() -> ThreadPoolExecutor:
    # Made on first use, so every gunicorn worker (forked) gets its own threads.
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="users-mail")
            atexit.register(_executor.shutdown, wait=True)  # let queued mail go out on a clean stop
        return _executor


def _send(to: str, subject: str, text: str) -> bool:
    settings = SmtpSettings.from_env()
    try:
        send_mail(settings, build_message(settings, to, subject, text))
    except (OSError, smtplib.SMTPException) as error:
        # Neither the address nor the link: the token in it is a credential.
        log.warning("mail not sent (%s): %s; the guest can ask again", type(error).__name__, subject)
        return False
    return True


def _verification(name: str, url: str) -> tuple[str, str]:
    return ("Verify your e-mail address for hotelbook",
            f"Hello {name},\n\nplease confirm your e-mail address by opening this link:\n\n{url}\n\n"
            "The link works once and expires in two days.\n")


def _reset(name: str, url: str) -> tuple[str, str]:
    return ("Reset your hotelbook password",
            f"Hello {name},\n\nsomeone asked to reset your password. If it was you, open:\n\n{url}\n\n"
            "The link works once and expires in one hour. If it was not you, ignore this message.\n")


def _signup_attempt(name: str, forgot_url: str) -> tuple[str, str]:
    return ("Someone tried to sign up with your e-mail address",
            f"Hello {name},\n\nsomeone tried to create a hotelbook account with this e-mail address, which "
            "already has one. Nothing was changed.\n\nIf it was you: log in with your password, or choose a "
            f"new one here:\n\n{forgot_url}\n\nIf it was not you, you can ignore this message.\n")


def _email_changed(name: str, new_address: str) -> tuple[str, str]:
    return ("Your hotelbook e-mail address was changed",
            f"Hello {name},\n\nthe e-mail address of your hotelbook account was changed to "
            f"{mask_address(new_address)}. Messages about your account and bookings now go there.\n\n"
            "If you did not do this, someone else knows your password: please contact us at once.\n")


def mask_address(address: str) -> str:
    """``zoe@example.test`` -> ``z**@example.test``: enough for the owner to recognise it."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}{'*' * max(len(local) - 1, 2)}@{domain}"


def send_signup_attempt(to: str, name: str, forgot_url: str) -> bool:
    return _send(to, *_signup_attempt(name, forgot_url))


def send_email_changed(to: str, name: str, new_address: str) -> bool:
    return _send(to, *_email_changed(name, new_address))


def send_verification(to: str, name: str, url: str) -> bool:
    """Send now; False (and a log line) when the mail server could not take it."""
    return _send(to, *_verification(name, url))


def send_reset_later(to: str, name: str, url: str) -> Future[bool]:
    """Queue the reset message so the request answers in the same time whether or not it is sent."""
    # The send stays in the trace of the request that asked for it.
    return _background().submit(run_in_thread_context(), _send, to, *_reset(name, url))
