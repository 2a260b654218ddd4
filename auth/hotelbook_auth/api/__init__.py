"""The OAuth endpoints (token, introspection, revocation) and the discovery documents.

They answer RFC 6749 error JSON (``error``, ``error_description``), not problem+json: OAuth
clients expect that shape. Malformed requests are refused before Authlib sees them.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Callable
from typing import Any

import flask
from authlib.oauth2.rfc6749.errors import OAuth2Error
from flask import Response, current_app, json, jsonify, request

from hotelbook_auth import domain
from hotelbook_auth.actions.keys import NoSigningKey
from hotelbook_auth.actions.oauth import ALL_METHODS, CONFIDENTIAL_METHODS, oauth_server
from hotelbook_auth.schemas import (
    EmptySchema,
    IntrospectionSchema,
    JWKSSchema,
    MetadataSchema,
    TokenQuerySchema,
    TokenRequestSchema,
    TokenResponseSchema,
    form_body,
)
from hotelbook_chassis import Blueprint

log = logging.getLogger("hotelbook.auth.api")


class OAuthBlueprint(Blueprint):
    """No default problem+json error response in the docs: these endpoints answer RFC 6749 errors."""

    @staticmethod
    def _prepare_response_doc(doc: dict, doc_info: dict, **kwargs: Any) -> dict:
        doc = Blueprint._prepare_response_doc(doc, doc_info, **kwargs)
        doc.get("responses", {}).pop("default", None)
        return doc


blp = OAuthBlueprint("oauth", __name__,
                     description="OAuth 2 authorization server (RFC 6749, 7009, 7662, 8414, 9068)")
# Other methods on the OAuth endpoints: outside the documented API, still OAuth error JSON.
wrong_methods = flask.Blueprint("oauth_methods", __name__)

FORM = "application/x-www-form-urlencoded"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
# Not declared as 4xx responses: the chassis would document them as problem+json.
OAUTH_ERRORS = (" Errors are RFC 6749 JSON {error, error_description}: 400, or 401 with"
                " WWW-Authenticate for invalid_client.")


def oauth_error(error: str, description: str, status: int = 400, headers: dict[str, str] | None = None) -> Response:
    response = Response(json.dumps({"error": error, "error_description": description}), status=status,
                        mimetype="application/json")
    response.headers.update(NO_STORE)
    response.headers.update(headers or {})
    return response


def _malformed() -> Response | None:
    """RFC 6749 section 3.2/2.3.1: a form-encoded POST body, each parameter once, no credentials in the URL."""
    if request.mimetype != FORM:
        return oauth_error("invalid_request", f"The request body must be {FORM}.")
    if request.args:
        return oauth_error("invalid_request", "Parameters belong in the request body, not the URL.")
    repeated = sorted({name for name in request.form if len(request.form.getlist(name)) > 1})
    if repeated:
        return oauth_error("invalid_request", f"Repeated parameter(s): {', '.join(repeated)}.")
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic" or not _valid_basic(value.strip()):
            return oauth_error("invalid_client", "Malformed Authorization header.", 401,
                               {"WWW-Authenticate": 'Basic realm="hotelbook", error="invalid_client"'})
        if request.form.get("client_secret"):
            return oauth_error("invalid_request", "Use one client authentication method, not two.")
    return None


def _valid_basic(value: str) -> bool:
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return False
    return ":" in decoded


def _guarded(answer: Callable[[], Any]) -> Any:
    """Run an Authlib endpoint so that nothing a client sends can become a 500."""
    malformed = _malformed()
    if malformed is not None:
        return malformed
    try:
        return answer()
    except NoSigningKey:
        log.error("no active signing key: run `flask --app hotelbook_auth keys ensure`")
        return oauth_error("temporarily_unavailable", "No signing key is configured yet.", 503)
    except OAuth2Error as error:  # raised outside Authlib's own handling (e.g. while parsing)
        return oauth_server().handle_error_response(None, error)
    except (ValueError, UnicodeError) as error:
        # Authlib refuses to build an error description from hostile input: still a client error.
        log.info("malformed OAuth request: %s", type(error).__name__)
        return oauth_error("invalid_request", "The request is malformed.")


def _post_only() -> Response:
    response = oauth_error("invalid_request", "This endpoint only accepts POST.", 405)
    response.headers["Allow"] = "POST"
    return response


@blp.route("/oauth/token", methods=["POST"])
@blp.doc(summary="Token endpoint (RFC 6749 section 3.2)", requestBody=form_body(TokenRequestSchema),
         description="grant_type client_credentials, authorization_code (PKCE S256) or refresh_token; "
                     "client authentication client_secret_basic (or client_secret_post, none for public clients)."
                     + OAUTH_ERRORS)
@blp.alt_response(200, schema=TokenResponseSchema, description="Tokens")
def token() -> Any:
    def answer() -> Any:
        if not request.form.get("grant_type"):
            return oauth_error("invalid_request", "Missing 'grant_type'.")
        return oauth_server().create_token_response()

    return _guarded(answer)


@blp.route("/oauth/introspect", methods=["POST"])
@blp.doc(summary="Token introspection (RFC 7662)", requestBody=form_body(TokenQuerySchema),
         description="Needs client authentication." + OAUTH_ERRORS)
@blp.alt_response(200, schema=IntrospectionSchema, description="{active: false} or the token's claims")
def introspect() -> Any:
    return _guarded(lambda: oauth_server().create_endpoint_response("introspection"))


@blp.route("/oauth/revoke", methods=["POST"])
@blp.doc(summary="Token revocation (RFC 7009)", requestBody=form_body(TokenQuerySchema),
         description="Needs client authentication." + OAUTH_ERRORS)
@blp.alt_response(200, schema=EmptySchema, description="Revoked, or nothing to revoke")
def revoke() -> Any:
    return _guarded(lambda: oauth_server().create_endpoint_response("revocation"))


for _path, _name in (("/oauth/token", "token_other"), ("/oauth/introspect", "introspect_other"),
                     ("/oauth/revoke", "revoke_other")):
    wrong_methods.add_url_rule(_path, _name, _post_only, methods=["GET", "PUT", "PATCH", "DELETE"])


@blp.route("/.well-known/jwks.json", methods=["GET"])
@blp.doc(summary="Public signing keys (JWKS): the active key and retired ones still in use")
@blp.alt_response(200, schema=JWKSSchema, description="JWKS")
def jwks() -> Any:
    response = jsonify(current_app.extensions["auth_keys"].jwks())
    # Short: services refetch on an unknown kid anyway, and a rotation must show up soon.
    response.headers["Cache-Control"] = "public, max-age=60"
    return response


@blp.route("/.well-known/oauth-authorization-server", methods=["GET"])
@blp.doc(summary="Authorization server metadata (RFC 8414)")
@blp.alt_response(200, schema=MetadataSchema, description="Metadata")
def metadata() -> Any:
    issuer = current_app.config["OAUTH_ISSUER"].rstrip("/")
    response = jsonify({
        "issuer": current_app.config["OAUTH_ISSUER"],
        "authorization_endpoint": f"{issuer}/oauth/authorize",
        "token_endpoint": f"{issuer}/oauth/token",
        "introspection_endpoint": f"{issuer}/oauth/introspect",
        "revocation_endpoint": f"{issuer}/oauth/revoke",
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "scopes_supported": list(domain.KNOWN_SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": list(domain.GRANT_TYPES),
        "token_endpoint_auth_methods_supported": ALL_METHODS,
        "introspection_endpoint_auth_methods_supported": CONFIDENTIAL_METHODS,
        "revocation_endpoint_auth_methods_supported": ALL_METHODS,
        "code_challenge_methods_supported": [domain.PKCE_METHOD],
        "authorization_response_iss_parameter_supported": False,
    })
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
