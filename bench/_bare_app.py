"""A bare Flask app answering a constant JSON body: the baseline of bench/search.py.

It also plays reservations for search's availability call (every room type
asked about is free), so a search with dates costs search its real round trip.
"""

import json
import os

from flask import Flask, Response, request


def create_app() -> Flask:
    app = Flask(__name__)
    with open(os.environ["BARE_BODY_FILE"], "rb") as handle:
        body = handle.read()
    json.loads(body)

    @app.get("/hotels")
    def hotels() -> Response:
        return Response(body, mimetype="application/json")

    @app.post("/availability")
    def availability() -> Response:
        asked = request.get_json()["room_types"]
        free = [{"room_type_id": rt["room_type_id"], "free": rt["rooms"]} for rt in asked]
        return Response(json.dumps({"room_types": free}), mimetype="application/json")

    @app.get("/readyz")
    def ready() -> Response:
        return Response(b'{"status":"ready"}', mimetype="application/json")

    return app
