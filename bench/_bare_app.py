"""A bare Flask app answering a constant JSON body: the baseline of bench/search.py."""

import json
import os

from flask import Flask, Response


def create_app() -> Flask:
    app = Flask(__name__)
    with open(os.environ["BARE_BODY_FILE"], "rb") as handle:
        body = handle.read()
    json.loads(body)

    @app.get("/hotels")
    def hotels() -> Response:
        return Response(body, mimetype="application/json")

    @app.get("/readyz")
    def ready() -> Response:
        return Response(b'{"status":"ready"}', mimetype="application/json")

    return app
