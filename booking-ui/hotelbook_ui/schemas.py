"""The JSON shapes of booking-ui's own endpoints (validation and /openapi.json)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate


class SuggestQuery(Schema):
    prefix = fields.String(load_default="", validate=validate.Length(max=50))


class CitySuggestion(Schema):
    name = fields.String(required=True)
    country = fields.String(required=True)


class SessionRevocationIn(Schema):
    user_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    not_before = fields.Float(required=True, validate=validate.Range(min=0),
                              metadata={"description": "Unix time in seconds (fraction allowed): every session "
                                                       "logged in at or before it ends"})


class SessionRevocationOut(Schema):
    user_id = fields.String()
    sessions_ended = fields.Integer()
