"""What the chassis writes (SQLite databases, secrets, mail) is readable by its owner only."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from hotelbook_chassis.config import dev_secret
from hotelbook_chassis.database import private_sqlite_file
from hotelbook_chassis.mail import SmtpSettings, build_message, send_mail
from hotelbook_chassis.smtp_sink import start_sink
from hotelbook_chassis.testing import free_port


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_sqlite_database_is_private(tmp_path):
    database = tmp_path / "users.db"
    private_sqlite_file(f"sqlite:///{database}")
    assert mode(database) == 0o600


def test_an_existing_world_readable_database_is_made_private(tmp_path):
    database = tmp_path / "users.db"
    database.write_bytes(b"")
    database.chmod(0o644)
    private_sqlite_file(f"sqlite:///{database}")
    assert mode(database) == 0o600


def test_memory_and_relative_databases_are_left_alone(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    private_sqlite_file("sqlite://")
    private_sqlite_file("sqlite:///:memory:")
    private_sqlite_file("sqlite:///relative.db")
    private_sqlite_file("postgresql+psycopg://postgres@127.0.0.1/x")
    assert list(tmp_path.iterdir()) == []


def test_generated_secrets_are_private(tmp_path, monkeypatch):
    monkeypatch.setenv("VAR_DIR", str(tmp_path / "var"))
    dev_secret("test-secret")
    assert mode(tmp_path / "var") == 0o700
    assert mode(tmp_path / "var" / "secrets") == 0o700
    assert mode(tmp_path / "var" / "secrets" / "test-secret") == 0o600


def test_mail_written_by_the_smtp_sink_is_private(tmp_path, monkeypatch):
    port = free_port()
    controller, store = start_sink("127.0.0.1", port, tmp_path / "mail")
    try:
        monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("SMTP_PORT", str(port))
        settings = SmtpSettings.from_env()
        send_mail(settings, build_message(settings, "zoe@example.test", "Reset", "https://x/reset?token=secret"))
        store.wait_for("zoe@example.test")
    finally:
        controller.stop()
    assert mode(tmp_path / "mail") == 0o700
    [mail] = list((tmp_path / "mail").iterdir())
    assert mode(mail) == 0o600


def test_gunicorn_settings_make_every_file_private():
    # The settings module sets the umask gunicorn's master and workers run with.
    code = "import os, hotelbook_chassis.gunicorn_conf; print(oct(os.umask(0)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ}).stdout.strip()
    assert out == "0o77"
