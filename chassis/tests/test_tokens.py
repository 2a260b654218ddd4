"""The token verifier against real signed JWTs: only a good token gets through."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from hotelbook_chassis.testing import TEST_ISSUER, bearer, make_token
from hotelbook_chassis.tokens import InvalidToken, JWKSCache, TokenVerifier

BODY = {"text": "hello"}


def post_note(client, token, status):
    headers = bearer(token) if token is not None else {}
    return client.post_json("/notes", BODY, headers=headers, status=status)


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_good_token_is_accepted(client, token_factory):
    response = post_note(client, token_factory("notes:write"), 201)
    assert response.json["text"] == "hello"


def assert_unauthorized(response):
    assert response.status_int == 401
    assert response.content_type == "application/problem+json"
    assert response.json["status"] == 401
    assert response.json["request_id"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_missing_token(client):
    assert_unauthorized(post_note(client, None, 401))


def test_alg_none_rejected(client, token_factory):
    good = token_factory("notes:write")
    _, payload, _ = good.split(".")
    forged = f"{b64({'alg': 'none', 'typ': 'at+jwt', 'kid': 'test-key-1'})}.{payload}."
    assert_unauthorized(post_note(client, forged, 401))


def test_hs256_signed_with_public_key_rejected(client, signing_key, jwks, token_factory):
    # The classic confusion attack: the public key used as an HMAC secret.
    # JOSE libraries refuse to build this token, so it is assembled by hand.
    public_pem = signing_key.as_pem(private=False)
    _, payload, _ = token_factory("notes:write").split(".")
    signing_input = f"{b64({'alg': 'HS256', 'kid': signing_key.kid, 'typ': 'at+jwt'})}.{payload}"
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    forged = f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    assert_unauthorized(post_note(client, forged, 401))


def test_expired_token_rejected(client, token_factory):
    assert_unauthorized(post_note(client, token_factory("notes:write", exp_in=-120), 401))


def test_wrong_issuer_rejected(client, signing_key):
    token = make_token(signing_key, scope="notes:write", aud="notes", issuer="http://evil.test")
    assert_unauthorized(post_note(client, token, 401))


def test_wrong_audience_rejected(client, token_factory):
    assert_unauthorized(post_note(client, token_factory("notes:write", aud="payments"), 401))


def test_audience_list_containing_service_accepted(client, token_factory):
    post_note(client, token_factory("notes:write", aud=["search", "notes"]), 201)


def test_unknown_kid_rejected(client):
    stranger = ECKey.generate_key("P-256", parameters={"kid": "someone-else"})
    token = make_token(stranger, scope="notes:write", aud="notes")
    assert_unauthorized(post_note(client, token, 401))


def test_known_kid_with_other_key_rejected(client):
    # Right kid, wrong key: the signature cannot verify.
    impostor = ECKey.generate_key("P-256", parameters={"kid": "test-key-1"})
    token = make_token(impostor, scope="notes:write", aud="notes")
    assert_unauthorized(post_note(client, token, 401))


def test_tampered_payload_rejected(client, token_factory):
    header, payload, signature = token_factory("guest").split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["scope"] = "notes:write"
    assert_unauthorized(post_note(client, f"{header}.{b64(claims)}.{signature}", 401))


def test_token_without_kid_rejected(client, signing_key):
    token = make_token(signing_key, scope="notes:write", aud="notes", header={"kid": None})
    assert_unauthorized(post_note(client, token, 401))


def test_id_token_typ_rejected(client, signing_key):
    token = make_token(signing_key, scope="notes:write", aud="notes", header={"typ": "JWT"})
    assert_unauthorized(post_note(client, token, 401))


def test_garbage_token_rejected(client):
    for garbage in ("abc", "a.b.c", "x" * 10000, "é.é.é"):
        assert_unauthorized(client.post_json("/notes", BODY, headers={"Authorization": f"Bearer {garbage}"},
                                             status=401))


def test_missing_scope_is_403(client, token_factory):
    response = post_note(client, token_factory("guest"), 403)
    assert response.content_type == "application/problem+json"
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
    assert "notes:write" in response.json["detail"]


def test_guest_endpoint_needs_guest_scope(client, token_factory):
    response = client.get("/me", headers=bearer(token_factory("guest", sub="user-1")))
    assert response.json == {"user_id": "user-1"}
    client.get("/me", headers=bearer(token_factory("notes:write")), status=403)


def test_rs256_accepted_when_published():
    rsa = RSAKey.generate_key(2048, parameters={"kid": "rsa-1"})
    keys = JWKSCache(lambda: {"keys": [rsa.as_dict(private=False)]})
    verifier = TokenVerifier(keys, issuer=TEST_ISSUER, audience="notes")
    now = int(time.time())
    token = jwt.encode({"alg": "RS256", "kid": "rsa-1", "typ": "at+jwt"},
                       {"iss": TEST_ISSUER, "aud": "notes", "sub": "s", "exp": now + 60, "iat": now,
                        "jti": "j", "scope": "x"}, rsa)
    assert verifier.verify(token)["sub"] == "s"


def test_unknown_kid_refetches_jwks_once_then_rate_limits():
    old = ECKey.generate_key("P-256", parameters={"kid": "old"})
    new = ECKey.generate_key("P-256", parameters={"kid": "new"})
    published = {"keys": [old.as_dict(private=False)]}
    fetches = []

    def fetch():
        fetches.append(1)
        return published

    verifier = TokenVerifier(JWKSCache(fetch, min_refetch_seconds=0.2), issuer=TEST_ISSUER, audience="notes")
    verifier.verify(make_token(old, aud="notes"))
    verifier.verify(make_token(old, aud="notes"))
    assert len(fetches) == 1  # cached: no call per token

    # Rotation: auth publishes a new key; the first token with its kid triggers one refetch.
    published = {"keys": [old.as_dict(private=False), new.as_dict(private=False)]}
    time.sleep(0.25)
    verifier.verify(make_token(new, aud="notes"))
    assert len(fetches) == 2

    # A flood of random kids cannot make the service hammer auth.
    time.sleep(0.25)
    stranger = ECKey.generate_key("P-256", parameters={"kid": "random"})
    for _ in range(5):
        with pytest.raises(InvalidToken):
            verifier.verify(make_token(stranger, aud="notes"))
    assert len(fetches) == 3


def test_verified_token_is_kept_but_its_expiry_still_checked(monkeypatch):
    key = ECKey.generate_key("P-256", parameters={"kid": "k"})
    verifier = TokenVerifier(JWKSCache(lambda: {"keys": [key.as_dict(private=False)]}), issuer=TEST_ISSUER,
                             audience="notes")
    signed = []
    original = verifier._verify_signed
    monkeypatch.setattr(verifier, "_verify_signed", lambda token: signed.append(token) or original(token))
    token = make_token(key, aud="notes", sub="kept")
    assert verifier.verify(token)["sub"] == "kept"
    assert verifier.verify(token)["sub"] == "kept"
    assert len(signed) == 1  # the signature is checked once per token

    # A tampered copy is another token: its signature is checked (and fails).
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    with pytest.raises(InvalidToken):
        verifier.verify(tampered)

    later = time.time() + 24 * 3600
    monkeypatch.setattr(time, "time", lambda: later)
    with pytest.raises(InvalidToken):
        verifier.verify(token)  # kept, but expired now
