from hotelbook_chassis.mail import SmtpSettings, build_message, send_mail
from hotelbook_chassis.smtp_sink import body_text


def test_mail_reaches_a_real_smtp_server(smtp_server):
    settings = SmtpSettings.from_env()
    assert settings.port == smtp_server.port
    message = build_message(settings, "zoe@example.test", "Verify your address", "Open https://x/verify?t=1",
                            attachments=[("receipt.pdf", "application/pdf", b"%PDF-1.7")])
    send_mail(settings, message)
    received = smtp_server.wait_for("zoe@example.test", subject_contains="Verify")
    assert "https://x/verify?t=1" in body_text(received)
    assert [part.get_filename() for part in received.iter_attachments()] == ["receipt.pdf"]
