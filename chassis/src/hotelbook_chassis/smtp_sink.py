"""A local SMTP server that keeps every message, for development and tests (aiosmtpd).

``python -m hotelbook_chassis.smtp_sink --port 8025 --folder var/mail`` writes each
message to ``var/mail/<time>-<n>.eml`` and prints a line for it, so a developer can
open the verification links the services send.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import os
import threading
import time
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

from hotelbook_chassis.config import PORTS


class MailStore:
    """The messages received, in memory (``keep``: for tests that wait for one) and optionally in a folder."""

    def __init__(self, folder: Path | None = None, *, keep: bool = True) -> None:
        self.folder = folder
        self.keep = keep
        self.messages: list[EmailMessage] = []
        self._count = 0
        self._lock = threading.Condition()
        if folder:
            # Mail holds verification and reset links: for the owner only.
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            self._count += 1
            count = self._count
            if self.keep:
                self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))  # type: ignore[arg-type]
                self._lock.notify_all()
        if self.folder:
            # The subject line only: a whole parse of every message cost the sink more CPU than the
            # service that sent it, and the process that only writes files keeps none in memory.
            message = BytesHeaderParser(policy=email.policy.default).parsebytes(envelope.content)
            path = self.folder / f"{time.strftime('%Y%m%dT%H%M%S')}-{count}.eml"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(envelope.content)
            print(f"mail to {', '.join(envelope.rcpt_tos)}: {message['Subject']} -> {path}", flush=True)
        return "250 Message accepted"

    def wait_for(self, to: str, *, subject_contains: str = "", timeout: float = 15) -> EmailMessage:
        """The first message to ``to`` whose subject contains ``subject_contains``."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                for message in self.messages:
                    if to.lower() in str(message["To"]).lower() and subject_contains in str(message["Subject"]):
                        return message
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no mail to {to} with {subject_contains!r} within {timeout}s")
                self._lock.wait(remaining)


def body_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    return part.get_content() if part else ""


def start_sink(host: str = "127.0.0.1", port: int = PORTS["smtp"], folder: Path | None = None, *,
               keep: bool = True) -> tuple[Any, MailStore]:
    """Start the sink in a background thread; returns ``(controller, store)``."""
    from aiosmtpd.controller import Controller

    store = MailStore(folder, keep=keep)
    controller = Controller(store, hostname=host, port=port)
    controller.start()
    return controller, store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=PORTS["smtp"])
    parser.add_argument("--folder", type=Path, default=Path("var/mail"))
    args = parser.parse_args()
    controller, _ = start_sink(args.host, args.port, args.folder, keep=False)
    print(f"SMTP sink on {args.host}:{args.port}, messages in {args.folder}/", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
