"""Make the generated OpenAPI document say what the service really answers."""

from __future__ import annotations

import copy
from typing import Any

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "request_id": {"type": "string", "nullable": True},
        "invalid_params": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "reason": {"type": "string"}},
            },
        },
    },
    "required": ["type", "title", "status"],
}


def problem_json_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """Every 4xx/5xx answer is ``application/problem+json`` with :data:`PROBLEM_SCHEMA`."""
    spec = copy.deepcopy(spec)
    components = spec.setdefault("components", {})
    components.setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    problem_content = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}

    # smorest's own error component is replaced by ours.
    for response in components.get("responses", {}).values():
        response["content"] = copy.deepcopy(problem_content)
    components.get("schemas", {}).pop("Error", None)

    for path_item in spec.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for status, response in operation["responses"].items():
                if status.isdigit() and int(status) >= 400 and "$ref" not in response:
                    response["content"] = copy.deepcopy(problem_content)
    return spec
