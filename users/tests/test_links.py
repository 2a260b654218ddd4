"""The mailed links: signed, expiring, single-use, one purpose each, and nothing secret in the logs."""

import logging

from itsdangerous import URLSafeTimedSerializer

from hotelbook_chassis.testing import free_port
from hotelbook_users.models import User, db
from tests.conftest import PASSWORD, link_token

NEW = "a different long passphrase"


def reset_token(client, smtp_server, email="zoe@example.test"):
    client.post_json("/password-resets", {"email": email}, status=202)
    return link_token(smtp_server.wait_for(email, subject_contains="Reset"), "reset-password")


def verify_token(smtp_server, email="zoe@example.test"):
    return link_token(smtp_server.wait_for(email, subject_contains="Verify"), "verify-email")


def refused(client, path, body):
    problem = client.post_json(path, body, status=400).json
    assert [p["name"] for p in problem["invalid_params"]] == ["token"], problem
    return problem


def test_reset_link_expires(client, sign_up, smtp_server, clean_db, monkeypatch):
    sign_up()
    token = reset_token(client, smtp_server)
    monkeypatch.setitem(clean_db.config, "RESET_LINK_SECONDS", -1)
    problem = refused(client, "/password-resets/confirm", {"token": token, "password": NEW})
    assert "expired" in problem["invalid_params"][0]["reason"]


def test_weak_password_on_reset_keeps_the_link_usable(client, sign_up, smtp_server, auth):
    sign_up()
    token = reset_token(client, smtp_server)
    problem = client.post_json("/password-resets/confirm", {"token": token, "password": "short"}, status=400).json
    assert [p["name"] for p in problem["invalid_params"]] == ["password"]
    client.post_json("/password-resets/confirm", {"token": token, "password": NEW}, status=200)
    body = {"email": "zoe@example.test", "password": PASSWORD}
    assert client.post_json("/credentials/verify", body, headers=auth).json == {"valid": False, "user": None}


def test_reset_link_dies_when_the_password_changes_another_way(client, sign_up, smtp_server, guest_of):
    zoe = sign_up()
    token = reset_token(client, smtp_server)
    client.patch_json("/users/me", {"password": NEW, "current_password": PASSWORD}, headers=guest_of(zoe))
    refused(client, "/password-resets/confirm", {"token": token, "password": NEW + " again"})


def test_reset_link_dies_when_the_address_changes(client, sign_up, smtp_server, guest_of, auth):
    zoe = sign_up()
    token = reset_token(client, smtp_server)
    client.patch_json("/users/me", {"email": "new@example.test", "current_password": PASSWORD},
                      headers=guest_of(zoe))
    refused(client, "/password-resets/confirm", {"token": token, "password": NEW})
    # Nor was the new, unproven address marked verified.
    assert client.get("/users/me", headers=guest_of(zoe)).json["email_verified"] is False


def test_each_link_has_one_purpose(client, sign_up, smtp_server):
    sign_up()
    verification = verify_token(smtp_server)
    reset = reset_token(client, smtp_server)
    refused(client, "/password-resets/confirm", {"token": verification, "password": NEW})
    refused(client, "/email-verifications", {"token": reset})


def test_forged_and_garbage_tokens_refused(client, sign_up, smtp_server, clean_db):
    zoe = sign_up()
    forged = URLSafeTimedSerializer("not the service key", salt="users:verify-email").dumps(
        {"uid": zoe["id"], "email": zoe["email"]})
    refused(client, "/email-verifications", {"token": forged})
    for junk in ("x", "a.b.c", "é" * 50):
        refused(client, "/email-verifications", {"token": junk})
        refused(client, "/password-resets/confirm", {"token": junk, "password": NEW})
    # A validly signed payload of the wrong shape is a bad token, not a 500.
    serializer = URLSafeTimedSerializer(clean_db.config["SECRET_KEY"], salt="users:verify-email")
    refused(client, "/email-verifications", {"token": serializer.dumps(["a list"])})


def test_link_of_a_deleted_account_refused(client, sign_up, smtp_server, guest_of):
    zoe = sign_up()
    token = verify_token(smtp_server)
    client.delete("/users/me", headers=guest_of(zoe), status=204)
    refused(client, "/email-verifications", {"token": token})


def test_resend_mails_a_fresh_link_until_verified(client, sign_up, smtp_server, guest_of):
    zoe = sign_up()
    verify_token(smtp_server)
    client.post("/users/me/verification-email", headers=guest_of(zoe), status=202)
    assert len(smtp_server.messages) == 2
    token = link_token(smtp_server.messages[-1], "verify-email")
    assert client.post_json("/email-verifications", {"token": token}).json["email_verified"] is True
    client.post("/users/me/verification-email", headers=guest_of(zoe), status=202)
    assert len(smtp_server.messages) == 2  # already verified: nothing to send


def test_reset_for_unknown_or_malformed_address_is_202_and_silent(client, sign_up, smtp_server):
    sign_up()
    for email in ("nobody@example.test", "not an address", "ZOE@EXAMPLE.TEST"):
        assert client.post_json("/password-resets", {"email": email}, status=202).json == {"status": "accepted"}
    smtp_server.wait_for("zoe@example.test", subject_contains="Reset")
    assert {str(m["To"]) for m in smtp_server.messages} == {"zoe@example.test"}


def test_mail_outage_answers_the_same(client, sign_up, guest_of, monkeypatch, caplog):
    with caplog.at_level(logging.WARNING, logger="hotelbook_users.actions.mailer"):
        monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("SMTP_PORT", str(free_port()))  # nothing listens there
        zoe = sign_up()
        assert any("mail not sent" in r.getMessage() for r in caplog.records)
        client.post("/users/me/verification-email", headers=guest_of(zoe), status=202)
        client.post_json("/password-resets", {"email": "zoe@example.test"}, status=202)


def test_no_password_hash_or_token_in_the_logs(client, sign_up, smtp_server, auth, guest_of, caplog, clean_db):
    with caplog.at_level(logging.DEBUG):
        zoe = sign_up()
        token = verify_token(smtp_server)
        client.post_json("/email-verifications", {"token": token})
        client.post_json("/credentials/verify", {"email": "zoe@example.test", "password": PASSWORD}, headers=auth)
        client.post_json("/credentials/verify", {"email": "zoe@example.test", "password": "wrong " + PASSWORD},
                         headers=auth)
        reset = reset_token(client, smtp_server)
        client.post_json("/password-resets/confirm", {"token": reset, "password": NEW})
        client.patch_json("/users/me", {"password": "hunter2hunter2", "current_password": "wrong one"},
                          headers=guest_of(zoe), status=400)
    with clean_db.app_context():
        stored = db.session.get(User, zoe["id"]).password_hash
    logged = "\n".join(r.getMessage() + str(r.__dict__) for r in caplog.records)
    assert caplog.records  # the requests were logged...
    for secret in (PASSWORD, NEW, token, reset, stored, "hunter2hunter2"):
        assert secret not in logged  # ...without a secret in them
