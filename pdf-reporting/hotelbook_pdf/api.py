"""HTTP endpoints: ``GET /templates`` and ``POST /render``."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app
from marshmallow import ValidationError

from hotelbook_chassis import Blueprint, Problem
from hotelbook_chassis.problems import ValidationProblem, flatten_messages
from hotelbook_pdf.schemas import TEMPLATES, RenderIn, TemplateList, fields_of

blp = Blueprint("pdf", __name__, description="Template + data -> PDF")


@blp.get("/templates")
@blp.response(200, TemplateList)
def list_templates() -> dict[str, Any]:
    """The templates, with the data fields each one needs."""
    return {"items": [{"name": t.name, "description": t.description, "fields": fields_of(t.schema)}
                      for t in TEMPLATES.values()]}


@blp.post("/render")
@blp.requires("pdf:render")
@blp.arguments(RenderIn)
@blp.response(200, {"type": "string", "format": "binary"}, content_type="application/pdf")
@blp.alt_response(404, description="Unknown template")
def render(body: dict[str, Any]) -> Response:
    """Render a template with data into a PDF."""
    template = TEMPLATES.get(body["template"])
    if template is None:
        raise Problem(404, f"No template named {body['template'][:64]!r}.", type="unknown-template",
                      invalid_params=[{"name": "template", "reason": "unknown template"}])
    try:
        data = template.schema().load(body["data"])
    except ValidationError as error:
        raise ValidationProblem([{**p, "name": f"data.{p['name']}"} for p in flatten_messages(error.messages)]) \
            from error
    pdf = current_app.extensions["pdf_renderer"].pdf(template.name, data, template.stylesheet)
    return Response(pdf, mimetype="application/pdf")
