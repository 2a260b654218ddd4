"""One OpenAPI document of the public operations, from the services' own documents.

    python nginx/public_openapi.py --out FILE [--routes nginx/routes.json] \
        --service search=http://127.0.0.1:8101/openapi.json [--service NAME=URL|FILE ...]

Each service generates its /openapi.json from the code that validates requests;
this keeps, of each document, only the operations routes.json lets through the
gateway, under their public paths (`/hotels` of search becomes
`/api/search/hotels`), with the schemas they use and nothing else. The gateway
serves the result at /api/openapi.json (render.py --public-openapi FILE). Plain
Python, standard library only.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def _shape(path: str) -> str:
    """A path with its parameter names erased: `/a/{x}` and `/a/{y}` are the same route."""
    return re.sub(r"\{[^}]*\}", "{}", path)


def _refs(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/"):
            found.add(ref)
        for value in node.values():
            found |= _refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= _refs(value)
    return found


def _rename_refs(node: Any, renames: dict[str, str]) -> Any:
    if isinstance(node, dict):
        return {key: (renames.get(value, value) if key == "$ref" and isinstance(value, str)
                      else _rename_refs(value, renames)) for key, value in node.items()}
    if isinstance(node, list):
        return [_rename_refs(value, renames) for value in node]
    return node


def _component(doc: dict[str, Any], ref: str) -> Any:
    _, _, kind, name = ref.split("/", 3)
    return doc.get("components", {}).get(kind, {}).get(name)


def public_operations(routes: dict[str, Any], service: str) -> tuple[str, dict[str, set[str]]]:
    """The service's gateway prefix and {path shape: allowed methods (lower case)}."""
    entry = routes.get("services", {}).get(service) or {}
    allowed: dict[str, set[str]] = {}
    for op in entry.get("operations") or []:
        allowed.setdefault(_shape(op["path"]), set()).update(m.lower() for m in op["methods"])
    return entry.get("prefix", ""), allowed


def build(routes: dict[str, Any], docs: dict[str, dict[str, Any]], *, version: str = "1.0.0") -> dict[str, Any]:
    """The public document: the allowed operations of every service's own document."""
    paths: dict[str, Any] = {}
    components: dict[str, dict[str, Any]] = {}
    tags: dict[str, dict[str, Any]] = {}
    for service in sorted(docs):
        doc = docs[service]
        prefix, allowed = public_operations(routes, service)
        kept: dict[str, Any] = {}
        for path, item in (doc.get("paths") or {}).items():
            methods = allowed.get(_shape(path))
            if not methods:
                continue
            operations = {m: copy.deepcopy(op) for m, op in item.items() if m in METHODS and m in methods}
            if operations:
                shared = {k: copy.deepcopy(v) for k, v in item.items() if k not in METHODS}
                kept[prefix + path] = {**shared, **operations}
        # The components those operations use, followed transitively.
        needed: set[str] = set()
        todo = _refs(kept)
        while todo:
            ref = todo.pop()
            if ref in needed:
                continue
            needed.add(ref)
            todo |= _refs(_component(doc, ref))
        for operation in (op for item in kept.values() for op in item.values() if isinstance(op, dict)):
            for requirement in operation.get("security") or []:
                needed |= {f"#/components/securitySchemes/{name}" for name in requirement
                           if _component(doc, f"#/components/securitySchemes/{name}") is not None}
        # Same name in two services: shared when identical, else named after the service.
        renames: dict[str, str] = {}
        for ref in sorted(needed):
            _, _, kind, name = ref.split("/", 3)
            other = components.get(kind, {}).get(name)
            if other is not None and other != _component(doc, ref):
                renames[ref] = f"#/components/{kind}/{re.sub(r'[^A-Za-z0-9]', '', service.title())}{name}"
        for ref in sorted(needed):
            _, _, kind, name = renames.get(ref, ref).split("/", 3)
            components.setdefault(kind, {})[name] = _rename_refs(_component(doc, ref), renames)
        paths.update(_rename_refs(kept, renames))
        for operation in (op for item in kept.values() for op in item.values() if isinstance(op, dict)):
            for tag in operation.get("tags") or []:
                tags.setdefault(tag, next((t for t in doc.get("tags") or [] if t.get("name") == tag),
                                          {"name": tag}))
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "hotelbook public API",
            "version": version,
            "description": "The operations the gateway passes on, generated from each service's own "
                           "OpenAPI document and the gateway's allow-list (nginx/routes.json). "
                           "Everything else answers 404 at the gateway.",
        },
        "servers": [{"url": "/"}],
        "tags": [tags[name] for name in sorted(tags)],
        "paths": dict(sorted(paths.items())),
        "components": {kind: dict(sorted(bucket.items())) for kind, bucket in sorted(components.items())},
    }


def load(source: str) -> dict[str, Any]:
    if re.match(r"https?://", source):
        with urllib.request.urlopen(source, timeout=10) as answer:  # noqa: S310 (http(s) only, checked above)
            return json.load(answer)
    return json.loads(Path(source).read_text(encoding="utf-8"))


def write(out: Path, routes_file: Path, sources: dict[str, str]) -> dict[str, Any]:
    routes = json.loads(routes_file.read_text(encoding="utf-8"))
    document = build(routes, {name: load(source) for name, source in sources.items()})
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(document, indent=1, ensure_ascii=False), encoding="utf-8")
    tmp.replace(out)  # nginx never serves half a file
    return document


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--routes", type=Path, default=HERE / "routes.json")
    parser.add_argument("--service", action="append", default=[], metavar="NAME=URL|FILE",
                        help="a service's own OpenAPI document (repeatable)")
    args = parser.parse_args(argv)
    sources = {}
    for item in args.service:
        name, sep, source = item.partition("=")
        if not sep:
            parser.error(f"--service: expected NAME=URL|FILE, got {item!r}")
        sources[name] = source
    document = write(args.out, args.routes, sources)
    print(f"{args.out}: {len(document['paths'])} public paths", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
