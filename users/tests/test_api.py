from argon2 import PasswordHasher

from hotelbook_chassis.smtp_sink import body_text
from hotelbook_chassis.testing import bearer
from hotelbook_users.models import User, db
from tests.conftest import PASSWORD, link_token


def test_sign_up_hides_the_hash_and_mails_a_link(client, sign_up, smtp_server, clean_db):
    user = sign_up(email="Zoe@Example.TEST")
    assert user == {"id": user["id"], "email": "zoe@example.test", "name": "Zoë Ñúñez", "email_verified": False}
    message = smtp_server.wait_for("zoe@example.test", subject_contains="Verify")
    assert "http://ui.test/verify-email?token=" in body_text(message)
    with clean_db.app_context():
        stored = db.session.get(User, user["id"]).password_hash
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_sign_up_needs_scope(client, token_factory):
    body = {"email": "a@example.test", "name": "A", "password": PASSWORD}
    client.post_json("/users", body, status=401)
    client.post_json("/users", body, headers=bearer(token_factory("guest")), status=403)


def test_sign_up_of_a_taken_address_answers_the_same_and_mails_the_owner(client, ui, sign_up, smtp_server, auth):
    sign_up()
    smtp_server.wait_for("zoe@example.test", subject_contains="Verify")
    new = client.post_json("/users", {"email": "new@example.test", "name": "New", "password": PASSWORD},
                           headers=ui)
    taken = client.post_json("/users", {"email": "ZOE@example.test", "name": "Mallory",
                                        "password": "an entirely other passphrase"}, headers=ui)
    # Nothing in the answer tells the two apart (no 409, no id, no "exists").
    assert (taken.status_int, taken.json, taken.content_type) == (new.status_int, new.json, new.content_type)
    assert taken.status_int == 202 and taken.json == {"status": "accepted"}
    # The owner hears of it; the account is untouched.
    note = smtp_server.wait_for("zoe@example.test", subject_contains="tried to sign up")
    assert "http://ui.test/forgot-password" in body_text(note) and "Mallory" not in body_text(note)
    assert client.post_json("/credentials/verify", {"email": "zoe@example.test", "password": PASSWORD},
                            headers=auth).json["user"]["name"] == "Zoë Ñúñez"
    assert client.post_json("/credentials/verify", {"email": "zoe@example.test",
                                                    "password": "an entirely other passphrase"},
                            headers=auth).json["valid"] is False


def test_bad_input_named(client, ui):
    for body, field in [({"email": "nope", "name": "A", "password": PASSWORD}, "email"),
                        ({"email": "a@example.test", "name": "A", "password": "password2026!"}, "password"),
                        ({"email": "a@example.test", "name": "A", "password": "short"}, "password"),
                        ({"email": "a@example.test", "name": "", "password": PASSWORD}, "name"),
                        ({"email": "a@example.test", "name": "A", "password": PASSWORD, "admin": True}, "admin")]:
        problem = client.post_json("/users", body, headers=ui, status=400).json
        assert field in {p["name"] for p in problem["invalid_params"]}, (body, problem)


def test_mail_outage_still_creates_the_account(client, ui, monkeypatch, token_factory):
    from hotelbook_chassis.testing import free_port

    monkeypatch.setenv("SMTP_PORT", str(free_port()))  # nothing listens there
    response = client.post_json("/users", {"email": "down@example.test", "name": "D", "password": PASSWORD},
                                headers=ui, status=202)
    assert response.json == {"status": "accepted"}
    assert client.post_json("/credentials/verify", {"email": "down@example.test", "password": PASSWORD},
                            headers=bearer(token_factory("users:verify", sub="auth"))).json["valid"] is True


def test_credentials_verify_same_shape(client, sign_up, auth):
    user = sign_up()
    good = client.post_json("/credentials/verify", {"email": "ZOE@example.test", "password": PASSWORD},
                            headers=auth).json
    assert good == {"valid": True, "user": user}
    wrong = client.post_json("/credentials/verify", {"email": "zoe@example.test", "password": "nope"},
                             headers=auth)
    unknown = client.post_json("/credentials/verify", {"email": "who@example.test", "password": "nope"},
                               headers=auth)
    not_email = client.post_json("/credentials/verify", {"email": "not-an-email", "password": "x"}, headers=auth)
    assert wrong.json == unknown.json == not_email.json == {"valid": False, "user": None}
    assert wrong.status_int == unknown.status_int == 200


def test_credentials_verify_costs_the_same_for_unknown_and_wrong(client, sign_up, auth, monkeypatch):
    # The cost is one argon2 verification on either path; counting them is exact,
    # where timing them on a shared machine is not.
    sign_up()
    verified_hashes = []
    real_verify = PasswordHasher.verify

    def counting_verify(self, stored_hash, password):
        verified_hashes.append(stored_hash)
        return real_verify(self, stored_hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", counting_verify)
    for email in ("zoe@example.test", "nobody@example.test"):
        verified_hashes.clear()
        client.post_json("/credentials/verify", {"email": email, "password": "wrong password"}, headers=auth)
        assert len(verified_hashes) == 1, email
        assert verified_hashes[0].startswith("$argon2id$")


def test_rehash_when_parameters_change(client, sign_up, auth, clean_db):
    user = sign_up()
    with clean_db.app_context():
        old = PasswordHasher(time_cost=1, memory_cost=512, parallelism=1)
        db.session.get(User, user["id"]).password_hash = old.hash(PASSWORD)
        db.session.commit()
    assert client.post_json("/credentials/verify", {"email": "zoe@example.test", "password": PASSWORD},
                            headers=auth).json["valid"]
    with clean_db.app_context():
        stored = db.session.get(User, user["id"]).password_hash
    assert "m=1024" in stored


def test_verification_link_works_once(client, sign_up, smtp_server):
    sign_up()
    token = link_token(smtp_server.wait_for("zoe@example.test", subject_contains="Verify"), "verify-email")
    assert client.post_json("/email-verifications", {"token": token}).json["email_verified"] is True
    problem = client.post_json("/email-verifications", {"token": token}, status=400).json
    assert problem["invalid_params"][0]["name"] == "token"
    client.post_json("/email-verifications", {"token": token + "x"}, status=400)


def test_expired_links_refused(client, sign_up, smtp_server, clean_db, monkeypatch):
    sign_up()
    token = link_token(smtp_server.wait_for("zoe@example.test", subject_contains="Verify"), "verify-email")
    monkeypatch.setitem(clean_db.config, "VERIFY_LINK_SECONDS", -1)
    client.post_json("/email-verifications", {"token": token}, status=400)


def test_password_reset_flow(client, sign_up, smtp_server, auth):
    sign_up()
    assert client.post_json("/password-resets", {"email": "zoe@example.test"}, status=202).json
    assert client.post_json("/password-resets", {"email": "nobody@example.test"}, status=202).json
    token = link_token(smtp_server.wait_for("zoe@example.test", subject_contains="Reset"), "reset-password")
    client.post_json("/password-resets/confirm", {"token": token, "password": "password123"}, status=400)
    new = "a different long passphrase"
    assert client.post_json("/password-resets/confirm", {"token": token, "password": new}).json["email_verified"]
    client.post_json("/password-resets/confirm", {"token": token, "password": new + "!"}, status=400)
    assert client.post_json("/credentials/verify", {"email": "zoe@example.test", "password": new},
                            headers=auth).json["valid"]
    assert len([m for m in smtp_server.messages if "nobody" in str(m["To"])]) == 0


def test_me_and_isolation(client, sign_up, guest_of, token_factory):
    zoe = sign_up()
    other = sign_up(email="other@example.test", name="Other")
    assert client.get("/users/me", headers=guest_of(zoe)).json["id"] == zoe["id"]
    patched = client.patch_json("/users/me", {"name": "Zoë N."}, headers=guest_of(zoe)).json
    assert patched["name"] == "Zoë N."
    assert client.get("/users/me", headers=guest_of(other)).json["name"] == "Other"
    client.patch_json("/users/me", {"password": "a brand new passphrase"}, headers=guest_of(zoe), status=400)
    client.patch_json("/users/me", {"password": "a brand new passphrase", "current_password": PASSWORD},
                      headers=guest_of(zoe))
    client.patch_json("/users/me", {"email": "other@example.test", "current_password": "a brand new passphrase"},
                      headers=guest_of(zoe), status=409)
    client.get(f"/users/{zoe['id']}", headers=guest_of(other), status=403)
    service = bearer(token_factory("users:read", sub="payments"))
    assert client.get(f"/users/{zoe['id']}", headers=service).json["email"] == "zoe@example.test"
    client.get("/users/00000000-0000-0000-0000-000000000000", headers=service, status=404)
    client.delete("/users/me", headers=guest_of(zoe), status=204)
    client.get("/users/me", headers=guest_of(zoe), status=404)
    client.get(f"/users/{zoe['id']}", headers=service, status=404)


def test_email_change_needs_verifying_again(client, sign_up, guest_of, smtp_server):
    zoe = sign_up()
    token = link_token(smtp_server.wait_for("zoe@example.test", subject_contains="Verify"), "verify-email")
    client.post_json("/email-verifications", {"token": token})
    changed = client.patch_json("/users/me", {"email": "new@example.test", "current_password": PASSWORD},
                                headers=guest_of(zoe)).json
    assert changed["email_verified"] is False
    smtp_server.wait_for("new@example.test", subject_contains="Verify")
    client.post_json("/email-verifications", {"token": token}, status=400)  # the old address's link is dead
    client.post("/users/me/verification-email", headers=guest_of(zoe), status=202)
