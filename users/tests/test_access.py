"""Who may call what: scopes, one guest never reaches another's account, strict input."""

import threading

import pytest
from webtest import TestApp

from hotelbook_chassis.testing import bearer
from hotelbook_users.models import User, db
from tests.conftest import PASSWORD

SIGN_UP = {"email": "a@example.test", "name": "A", "password": PASSWORD}
CREDENTIALS = {"email": "a@example.test", "password": PASSWORD}


@pytest.mark.parametrize("method, path, body, scope", [
    ("post", "/users", SIGN_UP, "users:create"),
    ("post", "/credentials/verify", CREDENTIALS, "users:verify"),
    ("get", "/users/me", None, "guest"),
    ("patch", "/users/me", {"name": "B"}, "guest"),
    ("delete", "/users/me", None, "guest"),
    ("post", "/users/me/verification-email", None, "guest"),
    ("get", "/users/00000000-0000-4000-8000-000000000000", None, "users:read"),
])
def test_each_endpoint_needs_its_scope(client, token_factory, method, path, body, scope):
    send = getattr(client, f"{method}_json") if body is not None else getattr(client, method)
    args = (path, body) if body is not None else (path,)
    send(*args, status=401)
    send(*args, headers={"Authorization": "Bearer not-a-jwt"}, status=401)
    # Every other scope of the system, all at once, is still not this one.
    others = " ".join(s for s in ("guest", "users:create", "users:verify", "users:read", "search:write",
                                  "reservations:read", "payments:read") if s != scope)
    send(*args, headers=bearer(token_factory(others)), status=403)
    # The right scope for another service is refused too.
    send(*args, headers=bearer(token_factory(scope, aud="reservations")), status=401)


def test_a_guest_only_ever_touches_their_own_account(client, sign_up, guest_of, auth, smtp_server):
    zoe = sign_up()
    eve = sign_up(email="eve@example.test", name="Eve")
    # Eve's token changes Eve, whatever the body says.
    client.patch_json("/users/me", {"id": zoe["id"]}, headers=guest_of(eve), status=400)
    client.patch_json("/users/me", {"name": "Eve E.", "email": "eve2@example.test", "current_password": PASSWORD},
                      headers=guest_of(eve))
    client.delete("/users/me", headers=guest_of(eve), status=204)
    assert client.get("/users/me", headers=guest_of(zoe)).json == zoe
    assert client.post_json("/credentials/verify", {"email": "zoe@example.test", "password": PASSWORD},
                            headers=auth).json["valid"] is True
    # A guest cannot read others by id, and Eve's dead token finds nothing.
    client.get(f"/users/{zoe['id']}", headers=guest_of(eve), status=403)
    client.get("/users/me", headers=guest_of(eve), status=404)
    client.patch_json("/users/me", {"name": "ghost"}, headers=guest_of(eve), status=404)


def test_guest_token_of_no_account_is_404(client, token_factory):
    client.get("/users/me", headers=bearer(token_factory("guest", sub="x" * 200)), status=404)


@pytest.mark.parametrize("path, body, extra, needs", [
    ("/users", {**SIGN_UP, "email_verified": True}, "email_verified", "ui"),
    ("/credentials/verify", {**CREDENTIALS, "remember": True}, "remember", "auth"),
    ("/email-verifications", {"token": "t", "email": "a@example.test"}, "email", None),
    ("/password-resets", {"email": "a@example.test", "link": "http://evil.test"}, "link", None),
    ("/password-resets/confirm", {"token": "t", "password": PASSWORD, "id": "x"}, "id", None),
])
def test_unknown_fields_refused(client, ui, auth, path, body, extra, needs):
    headers = {"ui": ui, "auth": auth, None: {}}[needs]
    problem = client.post_json(path, body, headers=headers, status=400).json
    assert extra in {p["name"] for p in problem["invalid_params"]}


def test_patch_refuses_unknown_fields_and_bad_values(client, sign_up, guest_of):
    zoe = guest_of(sign_up())
    for body, field in [({"email_verified": True}, "email_verified"), ({"name": "   "}, "name"),
                        ({"email": "not an address"}, "email"), ({"name": 5}, "name"),
                        ({"password": "short", "current_password": PASSWORD}, "password"),
                        ({"password": "another long passphrase", "current_password": "wrong"},
                         "current_password")]:
        problem = client.patch_json("/users/me", body, headers=zoe, status=400).json
        assert field in {p["name"] for p in problem["invalid_params"]}, (body, problem)
    assert client.get("/users/me", headers=zoe).json["email_verified"] is False


@pytest.mark.parametrize("body", [[], "text", {"email": None, "name": "A", "password": PASSWORD},
                                  {"email": "a@example.test", "name": "A", "password": "p" * 10_000}])
def test_malformed_bodies_are_400_not_500(client, ui, body):
    client.post_json("/users", body, headers=ui, status=400)


def test_weak_passwords_named(client, ui):
    for password in ("aaaaaaaaaaaaaaaa", "qwerty123456!", "abcdef-secret-pw", "Password2026!"):
        body = {"email": "abcdef@example.test", "name": "Abcdef", "password": password}
        problem = client.post_json("/users", body, headers=ui, status=400).json
        assert [p["name"] for p in problem["invalid_params"]] == ["password"], password


def test_simultaneous_sign_ups_of_one_address_make_one_account(clean_db, ui, smtp_server):
    answers = []
    start = threading.Barrier(4)

    def sign_up(n):
        start.wait()
        body = {"email": "Same@Example.test" if n % 2 else "same@example.test", "name": f"N{n}", "password": PASSWORD}
        answers.append(TestApp(clean_db).post_json("/users", body, headers=ui, expect_errors=True).status_int)

    threads = [threading.Thread(target=sign_up, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert answers == [202] * 4  # the same answer to each: sign-up tells no one who has an account
    with clean_db.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(User)) == 1
