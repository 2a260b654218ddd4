"""Sending e-mail over SMTP (smtplib), shared by the services that mail guests.

In development the mail goes to the local SMTP sink (``hotelbook_chassis.smtp_sink``)
(its port in the topology, 8025); ``SMTP_HOST``/``SMTP_PORT``/``SMTP_STARTTLS``/``SMTP_USER``/
``SMTP_PASSWORD``/``MAIL_FROM`` point it at a real server.
"""

from __future__ import annotations

import os
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid

from hotelbook_chassis.config import PORTS
from hotelbook_chassis.tracing import span


@dataclass(frozen=True)
class SmtpSettings:
    host: str = "127.0.0.1"
    port: int = PORTS["smtp"]
    starttls: bool = False
    user: str | None = None
    password: str | None = None
    sender: str = "Hotelbook <no-reply@hotelbook.test>"
    timeout: float = 10.0

    @classmethod
    def from_env(cls) -> SmtpSettings:
        return cls(
            host=os.environ.get("SMTP_HOST", "127.0.0.1"),
            port=int(os.environ.get("SMTP_PORT", PORTS["smtp"])),
            starttls=os.environ.get("SMTP_STARTTLS", "").lower() in {"1", "true", "yes"},
            user=os.environ.get("SMTP_USER") or None,
            password=os.environ.get("SMTP_PASSWORD") or None,
            sender=os.environ.get("MAIL_FROM", "Hotelbook <no-reply@hotelbook.test>"),
        )


def build_message(settings: SmtpSettings, to: str, subject: str, text: str, html: str | None = None,
                  attachments: list[tuple[str, str, bytes]] = ()) -> EmailMessage:
    """A multipart message; ``attachments`` are ``(filename, mime type, bytes)``."""
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="hotelbook.test")
    message.set_content(text)
    if html:
        message.add_alternative(html, subtype="html")
    for filename, mime, data in attachments:
        maintype, _, subtype = mime.partition("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return message


def send_mail(settings: SmtpSettings, message: EmailMessage) -> None:
    """Send one message; raises ``OSError``/``smtplib.SMTPException`` for the caller to retry."""
    with span("smtp send", client=True, **{"server.address": settings.host, "server.port": settings.port}), \
            smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout) as smtp:
        if settings.starttls:
            smtp.starttls()
        if settings.user and settings.password:
            smtp.login(settings.user, settings.password)
        smtp.send_message(message)
