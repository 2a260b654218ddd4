from authlib.oauth2.rfc8414 import AuthorizationServerMetadata

from hotelbook_chassis.testing import TEST_ISSUER


def test_rfc8414_metadata(client):
    doc = client.get("/.well-known/oauth-authorization-server").json
    assert doc["issuer"] == TEST_ISSUER
    assert doc["token_endpoint"] == f"{TEST_ISSUER}/oauth/token"
    assert doc["authorization_endpoint"] == f"{TEST_ISSUER}/oauth/authorize"
    assert doc["jwks_uri"] == f"{TEST_ISSUER}/.well-known/jwks.json"
    assert doc["introspection_endpoint"] and doc["revocation_endpoint"]
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert set(doc["grant_types_supported"]) == {"authorization_code", "refresh_token", "client_credentials"}
    assert doc["response_types_supported"] == ["code"]
    assert "guest" in doc["scopes_supported"] and "pdf:render" in doc["scopes_supported"]
    assert "client_secret_basic" in doc["token_endpoint_auth_methods_supported"]
    metadata = AuthorizationServerMetadata(doc)
    # (the endpoint validators insist on https; the test issuer is http)
    for name in ("scopes_supported",
                 "response_types_supported", "grant_types_supported", "code_challenge_methods_supported",
                 "token_endpoint_auth_methods_supported"):
        getattr(metadata, f"validate_{name}")()


def test_openapi_lists_the_oauth_endpoints(client):
    paths = client.get("/openapi.json").json["paths"]
    assert {"/oauth/token", "/oauth/introspect", "/oauth/revoke", "/.well-known/jwks.json"} <= set(paths)


def test_non_oauth_errors_are_problem_json(client):
    answer = client.get("/nothing-here", status=404)
    assert answer.content_type == "application/problem+json"
    assert client.get("/healthz").json["status"] == "ok"
