"""Request and response schemas: they validate input and document /openapi.json."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate

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


class Name(fields.String):
    """A display name, stripped; blank is refused."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        if not text:
            raise ValidationError("A name is required.")
        return text


class SignUpIn(Schema):
    email = Email(required=True, validate=validate.Length(max=320))
    name = Name(required=True, validate=NAME)
    password = PASSWORD


class CredentialsIn(Schema):
    email = fields.String(required=True, validate=validate.Length(max=320))
    password = PASSWORD


class CredentialsOut(Schema):
    valid = fields.Boolean()
    user = fields.Nested(UserOut, allow_none=True)


class PatchMeIn(Schema):
    name = Name(validate=NAME)
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
