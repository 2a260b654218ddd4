"""Key rotation: new tokens use the new key at once, old ones verify until retired, JWKS follows."""

import pytest
from conftest import basic, client_token
from joserfc import jws
from sqlalchemy import update

from hotelbook_auth.models import SigningKey, db
from hotelbook_chassis.tokens import InvalidToken


def _kid(token):
    return jws.extract_compact(token.encode()).protected["kid"]


def test_jwks_publishes_public_keys_only_and_is_cacheable(client, active_kid):
    answer = client.get("/.well-known/jwks.json")
    assert "max-age" in answer.headers["Cache-Control"] and "public" in answer.headers["Cache-Control"]
    (key,) = answer.json["keys"]
    assert key["kid"] == active_kid and key["kty"] == "EC" and key["crv"] == "P-256"
    assert key["alg"] == "ES256" and key["use"] == "sig"
    assert "d" not in key


def test_rotation_and_retirement(client, clean_db, cli, service_client, active_kid, verifier_for, jwks_fetches):
    verifier = verifier_for("users")
    old_token = client_token(client, service_client, "users:read").json["access_token"]
    assert _kid(old_token) == active_kid
    verifier.verify(old_token)

    cli("keys", "rotate")
    new_token = client_token(client, service_client, "users:read").json["access_token"]
    new_kid = _kid(new_token)
    assert new_kid != active_kid  # new tokens use the new key at once
    kids = {key["kid"] for key in client.get("/.well-known/jwks.json").json["keys"]}
    assert kids == {active_kid, new_kid}  # both published meanwhile
    fetches_before = len(jwks_fetches)
    verifier.verify(new_token)  # unknown kid -> one refetch
    verifier.verify(old_token)  # the old key's tokens stay valid until they expire
    assert len(jwks_fetches) == fetches_before + 1

    # retire keeps a key still inside token lifetime + leeway...
    assert "dropped 0" in cli("keys", "retire").output
    # ...and drops it once that has passed.
    with clean_db.app_context():
        db.session.execute(update(SigningKey).where(SigningKey.kid == active_kid)
                           .values(retired_at=SigningKey.retired_at - 300 - 61))
        db.session.commit()
    assert active_kid in cli("keys", "retire").output
    kids = {key["kid"] for key in client.get("/.well-known/jwks.json").json["keys"]}
    assert kids == {new_kid}
    with pytest.raises(InvalidToken):
        verifier_for("users").verify(old_token)  # a fresh service cannot verify it any more
    creds = basic("payments", service_client["client_secret"])
    assert client.post("/oauth/introspect", {"token": old_token}, headers=creds).json == {"active": False}
    verifier_for("users").verify(new_token)


def test_ensure_is_idempotent(cli, clean_db):
    first = cli("keys", "ensure").output
    assert first.startswith("created")
    kid = first.split()[-1]
    assert cli("keys", "ensure").output.strip() == f"active signing key {kid}"


def test_private_keys_stay_in_the_database_encrypted(client, clean_db, active_kid):
    from hotelbook_auth.actions.keys import unseal

    with clean_db.app_context():
        stored = db.session.get(SigningKey, active_kid).private_jwk
        assert '"d"' not in stored and active_kid not in stored  # encrypted at rest
        assert unseal(stored).is_private and unseal(stored).kid == active_kid
    assert '"d"' not in client.get("/.well-known/jwks.json").text


def test_steady_state_verification_never_calls_auth(client, service_client, verifier_for, jwks_fetches):
    verifier = verifier_for("users", min_refetch_seconds=10)
    token = client_token(client, service_client, "users:read").json["access_token"]
    verifier.verify(token)
    warm = len(jwks_fetches)
    for _ in range(50):
        verifier.verify(token)
    assert len(jwks_fetches) == warm == 1
