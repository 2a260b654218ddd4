"""A guest token alone (five minutes in someone else's hands) cannot take the account over:
moving it to another mailbox or setting a new password needs the current password, and the
old address is told of a change of address."""

from hotelbook_chassis.smtp_sink import body_text
from tests.conftest import PASSWORD

NEW = "a different long passphrase"


def test_email_change_without_the_current_password_is_refused(client, sign_up, guest_of, auth):
    zoe = sign_up()
    for body in ({"email": "mallory@example.test"},
                 {"email": "mallory@example.test", "current_password": ""},
                 {"email": "mallory@example.test", "current_password": "a wrong password here"}):
        problem = client.patch_json("/users/me", body, headers=guest_of(zoe), status=400).json
        assert [p["name"] for p in problem["invalid_params"]] == ["current_password"], problem
    assert client.get("/users/me", headers=guest_of(zoe)).json["email"] == "zoe@example.test"
    # ...so the attacker's next step, a reset link to their own mailbox, goes nowhere.
    client.post_json("/password-resets", {"email": "mallory@example.test"}, status=202)
    assert client.post_json("/credentials/verify", {"email": "zoe@example.test", "password": PASSWORD},
                            headers=auth).json["valid"] is True


def test_password_change_without_the_current_password_is_refused(client, sign_up, guest_of, auth):
    zoe = sign_up()
    for body in ({"password": NEW}, {"password": NEW, "current_password": "not it at all"}):
        problem = client.patch_json("/users/me", body, headers=guest_of(zoe), status=400).json
        assert [p["name"] for p in problem["invalid_params"]] == ["current_password"]
    assert client.post_json("/credentials/verify", {"email": "zoe@example.test", "password": NEW},
                            headers=auth).json["valid"] is False


def test_a_name_change_needs_no_password(client, sign_up, guest_of):
    zoe = sign_up()
    assert client.patch_json("/users/me", {"name": "Zoë N."}, headers=guest_of(zoe)).json["name"] == "Zoë N."


def test_email_change_with_the_password_tells_the_old_address(client, sign_up, guest_of, smtp_server):
    zoe = sign_up()
    changed = client.patch_json("/users/me", {"email": "zoe.new@example.test", "current_password": PASSWORD},
                                headers=guest_of(zoe)).json
    assert changed["email"] == "zoe.new@example.test" and changed["email_verified"] is False
    notice = smtp_server.wait_for("zoe@example.test", subject_contains="address was changed")
    text = body_text(notice)
    assert "z******@example.test" in text and "zoe.new@example.test" not in text
    smtp_server.wait_for("zoe.new@example.test", subject_contains="Verify")
