"""A tiny service built on the chassis, to test the chassis the way services use it."""

from __future__ import annotations

import pytest
from marshmallow import Schema, fields, validate
from sqlalchemy.orm import Mapped, mapped_column

from hotelbook_chassis import Blueprint, Problem, create_service_app, current_user_id
from hotelbook_chassis.database import make_db

db = make_db()


class Note(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str]


class NoteIn(Schema):
    text = fields.String(required=True, validate=validate.Length(min=1, max=50))
    stars = fields.Integer(validate=validate.Range(min=1, max=5))


class NoteOut(Schema):
    id = fields.Integer()
    text = fields.String()


blp = Blueprint("notes", __name__)


@blp.post("/notes")
@blp.requires("notes:write")
@blp.arguments(NoteIn)
@blp.response(201, NoteOut)
def create_note(body):
    note = Note(text=body["text"])
    db.session.add(note)
    db.session.commit()
    return note


@blp.get("/me")
@blp.requires("guest")
def me():
    return {"user_id": current_user_id()}


@blp.get("/teapot")
def teapot():
    raise Problem(418, "Short and stout.", type="teapot", extra_field=1)


@blp.get("/boom")
def boom():
    raise RuntimeError("secret internals")


@pytest.fixture(scope="session")
def service_name():
    return "notes"


@pytest.fixture(scope="session")
def app(service_config):
    app = create_service_app(__name__, service="notes", title="Notes", config=service_config, db=db,
                             blueprints=[blp])
    with app.app_context():
        db.create_all()
    return app


@pytest.fixture(scope="session")
def migrated_app(app):
    return app  # the test app has no migrations; tables come from create_all
