"""Request and response schemas: they validate input and document /openapi.json."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, post_load, validate

from hotelbook_users.domain import MAX_PASSWORD_LENGTH, InvalidEmail, normalise_email

NAME = validate.Length(min=1, max=200)
PASSWORD = fields.String(required=True, validate=validate.Length(min=1, max=MAX_PASSWORD_LENGTH),
                         load_only=True)


class Email(fields.String):
    """An e-mail address, normalised (validated with email-validator, lower-cased)."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return normalise_email(text)
        except InvalidEmail as error:
            raise ValidationError(str(error)) from error


class UserOut(Schema):
    id = fields.String()
    email = fields.String()
    name = fields.String()
    email_verified = fields.Boolean()


class SignUpIn(Schema):
    email = Email(required=True, validate=validate.Length(max=320))
    name = fields.String(required=True, validate=NAME)
    password = PASSWORD

    @post_load
    def strip_name(self, data: dict, **_: object) -> dict:
        data["name"] = data["name"].strip()
        if not data["name"]:
            raise ValidationError({"name": ["A name is required."]})
        return data


class CredentialsIn(Schema):
    email = fields.String(required=True, validate=validate.Length(max=320))
    password = PASSWORD


class CredentialsOut(Schema):
    valid = fields.Boolean()
    user = fields.Nested(UserOut, allow_none=True)


class PatchMeIn(Schema):
    name = fields.String(validate=NAME)
    email = Email(validate=validate.Length(max=320))
    password = fields.String(validate=validate.Length(min=1, max=MAX_PASSWORD_LENGTH), load_only=True)
    current_password = fields.String(validate=validate.Length(max=MAX_PASSWORD_LENGTH), load_only=True)


class TokenIn(Schema):
    token = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class ResetRequestIn(Schema):
    email = fields.String(required=True, validate=validate.Length(min=1, max=320))


class ResetConfirmIn(Schema):
    token = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    password = PASSWORD


class Accepted(Schema):
    status = fields.String()
