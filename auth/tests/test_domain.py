import pytest

from hotelbook_auth import domain


def test_audiences_follow_the_scope_table():
    assert domain.audiences_for("guest") == ["payments", "reservations", "users"]
    assert domain.audiences_for("pdf:render payments:refund users:read") == ["payments", "pdf-reporting", "users"]
    assert domain.audiences_for("reservations:availability") == ["reservations"]
    assert domain.audiences_for("") == []


def test_allowed_scope_never_exceeds_registration():
    registered = ["users:read", "pdf:render"]
    assert domain.allowed_scope(registered, None) == "users:read pdf:render"
    assert domain.allowed_scope(registered, "pdf:render") == "pdf:render"
    assert domain.allowed_scope(registered, "pdf:render guest") is None
    assert domain.allowed_scope([], None) is None


def test_client_secret_hash_is_salted_and_checked():
    secret = domain.new_client_secret()
    first, second = domain.hash_client_secret(secret), domain.hash_client_secret(secret)
    assert first != second and secret not in first
    assert domain.client_secret_matches(secret, first)
    assert not domain.client_secret_matches(secret + "x", first)
    assert not domain.client_secret_matches(secret, None)
    assert not domain.client_secret_matches(secret, "md5$x$y")


def test_pkce_s256_matches_rfc7636_example():
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert domain.s256(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    assert domain.pkce_matches(verifier, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
    assert not domain.pkce_matches("x" * 43, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
    assert not domain.pkce_matches("short", domain.s256("short"))


@pytest.mark.parametrize("kwargs, message", [
    ({"grants": ["password"], "scopes": ["guest"]}, "unsupported grant"),
    ({"grants": ["implicit"], "scopes": ["guest"]}, "unsupported grant"),
    ({"grants": ["client_credentials"], "scopes": ["admin"]}, "unknown scope"),
    ({"grants": ["client_credentials"], "scopes": []}, "at least one scope"),
    ({"grants": ["authorization_code"], "scopes": ["guest"]}, "redirect-uri"),
    ({"grants": ["client_credentials"], "scopes": ["guest"], "public": True}, "public client"),
    ({"grants": ["authorization_code"], "scopes": ["guest"], "redirect_uris": ["http://x.test/cb#frag"]},
     "without fragment"),
    ({"grants": ["authorization_code"], "scopes": ["guest"], "redirect_uris": ["javascript:alert(1)"]},
     "absolute http"),
])
def test_registration_policy(kwargs, message):
    kwargs = {"redirect_uris": [], "public": False, **kwargs}
    with pytest.raises(domain.PolicyError, match=message):
        domain.check_registration(**kwargs)


def test_lifetimes_come_from_the_environment(monkeypatch):
    from hotelbook_auth.settings import defaults

    monkeypatch.setenv("ACCESS_TOKEN_TTL", "120")
    monkeypatch.setenv("REFRESH_TOKEN_TTL", "3600")
    monkeypatch.setenv("AUTH_CODE_TTL", "30")
    settings = defaults()
    assert (settings["ACCESS_TOKEN_TTL"], settings["REFRESH_TOKEN_TTL"], settings["AUTH_CODE_TTL"]) == (120, 3600, 30)
    monkeypatch.setenv("ACCESS_TOKEN_TTL", "0")
    with pytest.raises(ValueError, match="ACCESS_TOKEN_TTL"):
        defaults()
