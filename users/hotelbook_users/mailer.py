"""The two messages users sends. A mail outage is logged, never turned into a failed request."""

from __future__ import annotations

import logging
import smtplib

from hotelbook_chassis.mail import SmtpSettings, build_message, send_mail

log = logging.getLogger(__name__)


def _send(to: str, subject: str, text: str) -> bool:
    settings = SmtpSettings.from_env()
    try:
        send_mail(settings, build_message(settings, to, subject, text))
    except (OSError, smtplib.SMTPException) as error:
        log.warning("mail not sent (%s): %s; the guest can ask again", type(error).__name__, subject)
        return False
    return True


def send_verification(to: str, name: str, url: str) -> bool:
    return _send(to, "Verify your e-mail address for hotelbook",
                 f"Hello {name},\n\nplease confirm your e-mail address by opening this link:\n\n{url}\n\n"
                 "The link works once and expires in two days.\n")


def send_reset(to: str, name: str, url: str) -> bool:
    return _send(to, "Reset your hotelbook password",
                 f"Hello {name},\n\nsomeone asked to reset your password. If it was you, open:\n\n{url}\n\n"
                 "The link works once and expires in one hour. If it was not you, ignore this message.\n")
