"""The receipt e-mail (an outbox job): its text, and sending it to the guest's address from users."""

from __future__ import annotations

from typing import Any

from flask import current_app

from hotelbook_chassis.money import format_money
from hotelbook_payments import clients


def send_receipt(payment: Any) -> None:
    import smtplib

    from hotelbook_chassis.mail import SmtpSettings, build_message, send_mail

    guest = clients.user(payment.user_id)
    settings = SmtpSettings.from_env()
    text = (f"Hello {guest.get('name', '')},\n\nthank you for your booking. We received your payment of "
            f"{format_money(payment.amount, payment.currency)} ({payment.brand} ending {payment.last4}).\n\n"
            f"Payment: {payment.id}\nReservation: {payment.reservation_id}\n\n"
            "Your receipt (PDF), also in My reservations:\n"
            f"{current_app.config['PUBLIC_URL'].rstrip('/')}/reservations/{payment.reservation_id}/receipt.pdf\n")
    try:
        send_mail(settings, build_message(settings, guest["email"], "Your hotelbook receipt", text))
    except smtplib.SMTPException as error:
        raise OSError(str(error)) from error
