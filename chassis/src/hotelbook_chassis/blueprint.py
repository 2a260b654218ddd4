"""flask-smorest blueprints that answer validation errors with 400 problem+json."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flask_smorest
from webargs.flaskparser import FlaskParser

from hotelbook_chassis.tokens import require_scope


class ProblemParser(FlaskParser):
    DEFAULT_VALIDATION_STATUS = 400


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = ProblemParser()

    def requires(self, *scopes: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Guard a view with :func:`require_scope` and document it in OpenAPI."""

        def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
            guarded = require_scope(*scopes)(view)
            documented = self.doc(
                security=[{"bearerAuth": list(scopes)}],
                responses={"401": {"description": "Missing or invalid token"},
                           "403": {"description": "Token lacks the scope"}},
            )(guarded)
            return documented

        return decorator

