"""Shapes of the OAuth endpoints, for /openapi.json.

The OAuth endpoints read their form with Authlib (RFC 6749 errors, not problem+json), so
these schemas document; they do not validate.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from hotelbook_auth import domain


class TokenRequestSchema(Schema):
    grant_type = fields.String(required=True, validate=validate.OneOf(domain.GRANT_TYPES))
    scope = fields.String(metadata={"description": "Space separated; default: the client's registered scopes"})
    code = fields.String(metadata={"description": "authorization_code"})
    redirect_uri = fields.String(metadata={"description": "authorization_code: as sent to /oauth/authorize"})
    code_verifier = fields.String(metadata={"description": "authorization_code: the PKCE verifier (S256)"})
    refresh_token = fields.String(metadata={"description": "refresh_token"})
    client_id = fields.String(metadata={"description": "client_secret_post or a public client"})
    client_secret = fields.String(metadata={"description": "client_secret_post"})


class TokenResponseSchema(Schema):
    access_token = fields.String(required=True, metadata={"description": "RFC 9068 JWT (ES256, kid)"})
    token_type = fields.String(required=True, metadata={"example": "Bearer"})
    expires_in = fields.Integer(required=True)
    scope = fields.String(required=True)
    refresh_token = fields.String(metadata={"description": "authorization_code and refresh_token grants"})


class TokenQuerySchema(Schema):
    token = fields.String(required=True)
    token_type_hint = fields.String(validate=validate.OneOf(["access_token", "refresh_token"]))
    client_id = fields.String()
    client_secret = fields.String()


class IntrospectionSchema(Schema):
    active = fields.Boolean(required=True)
    token_type = fields.String()
    scope = fields.String()
    client_id = fields.String()
    sub = fields.String()
    aud = fields.List(fields.String())
    iss = fields.String()
    exp = fields.Integer()
    iat = fields.Integer()
    jti = fields.String()


class EmptySchema(Schema):
    pass


class JWKSchema(Schema):
    kty = fields.String(required=True)
    crv = fields.String()
    x = fields.String()
    y = fields.String()
    kid = fields.String(required=True)
    use = fields.String()
    alg = fields.String()


class JWKSSchema(Schema):
    keys = fields.List(fields.Nested(JWKSchema), required=True)


class MetadataSchema(Schema):
    issuer = fields.String(required=True)
    authorization_endpoint = fields.String(required=True)
    token_endpoint = fields.String(required=True)
    introspection_endpoint = fields.String()
    revocation_endpoint = fields.String()
    jwks_uri = fields.String(required=True)
    scopes_supported = fields.List(fields.String())
    response_types_supported = fields.List(fields.String(), required=True)
    response_modes_supported = fields.List(fields.String())
    grant_types_supported = fields.List(fields.String())
    token_endpoint_auth_methods_supported = fields.List(fields.String())
    introspection_endpoint_auth_methods_supported = fields.List(fields.String())
    revocation_endpoint_auth_methods_supported = fields.List(fields.String())
    code_challenge_methods_supported = fields.List(fields.String())
    authorization_response_iss_parameter_supported = fields.Boolean()


def form_body(schema: type[Schema]) -> dict:
    return {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": schema}}}


class SessionRevocationIn(Schema):
    user_id = fields.String(required=True, validate=validate.Length(min=1, max=100))
    not_before = fields.Float(required=True, validate=validate.Range(min=0),
                              metadata={"description": "Unix time in seconds (fraction allowed): every session "
                                                       "that started at or before it ends"})


class SessionRevocationOut(Schema):
    user_id = fields.String()
    families_revoked = fields.Integer(metadata={"description": "refresh-token families still live until now"})
