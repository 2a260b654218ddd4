"""HTTP endpoints: translate requests to domain calls and back."""

from __future__ import annotations

from marshmallow import Schema, fields

from hotelbook_chassis import Blueprint
from hotelbook_search.models import City, db

blp = Blueprint("search", __name__, description="Hotel catalogue and search")


class CityQuery(Schema):
    prefix = fields.String(load_default="")


class CityOut(Schema):
    name = fields.String()
    country = fields.String()


@blp.get("/cities")
@blp.arguments(CityQuery, location="query")
@blp.response(200, CityOut(many=True))
def cities(query):
    return db.session.scalars(db.select(City).where(City.name.startswith(query["prefix"])).limit(10)).all()
