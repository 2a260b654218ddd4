"""Build a kustomize tree the way ``kubectl kustomize`` does, for the subset this repo uses.

``kubectl`` and ``kustomize`` are not Debian packages, and CI starts on a bare
Debian machine, so ``make manifests`` builds ``deploy/kubernetes/`` with this
module (PyYAML only). It implements exactly what our kustomization files use and
refuses anything else, so a kustomization that uses more fails loudly instead of
rendering differently: ``resources`` (files and folders), ``namespace``,
``images`` (newName/newTag), ``replicas``, and ``patches`` given inline, either a
strategic-merge patch that only merges maps, or a JSON patch (RFC 6902) with a
``target``. Where ``kubectl`` is installed, a test checks both give the same objects.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

KNOWN_KEYS = {"apiVersion", "kind", "resources", "namespace", "images", "replicas", "patches"}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
                  "PersistentVolume", "StorageClass", "PriorityClass"}


class KustomizeError(ValueError):
    pass


def build(folder: Path) -> list[dict[str, Any]]:
    """The objects of the kustomization in ``folder``, transformed."""
    path = folder / "kustomization.yaml"
    spec = yaml.safe_load(path.read_text()) or {}
    unknown = set(spec) - KNOWN_KEYS
    if unknown:
        raise KustomizeError(f"{path}: unsupported fields {sorted(unknown)}")
    objects: list[dict[str, Any]] = []
    for resource in spec.get("resources", []):
        target = (folder / resource).resolve()
        if target.is_dir():
            objects += build(target)
        else:
            objects += [doc for doc in yaml.safe_load_all(target.read_text()) if doc]
    for patch in spec.get("patches", []):
        apply_patch(objects, patch, path)
    for item in spec.get("replicas", []):
        for obj in matching(objects, name=item["name"]):
            if obj["kind"] in ("Deployment", "StatefulSet", "ReplicaSet"):
                obj["spec"]["replicas"] = item["count"]
    for item in spec.get("images", []):
        for obj in objects:
            for container in containers(obj):
                set_image(container, item)
    if "namespace" in spec:
        for obj in objects:
            if obj["kind"] not in CLUSTER_SCOPED:
                obj["metadata"]["namespace"] = spec["namespace"]
    return objects


def matching(objects: list[dict[str, Any]], *, kind: str | None = None, name: str | None = None
             ) -> list[dict[str, Any]]:
    return [obj for obj in objects if (kind is None or obj["kind"] == kind)
            and (name is None or obj["metadata"]["name"] == name)]


def apply_patch(objects: list[dict[str, Any]], patch: dict[str, Any], where: Path) -> None:
    if set(patch) - {"patch", "target"}:
        raise KustomizeError(f"{where}: only inline patches are supported, got {sorted(patch)}")
    body = yaml.safe_load(patch["patch"])
    target = patch.get("target") or {}
    if set(target) - {"kind", "name"}:
        raise KustomizeError(f"{where}: patch targets select by kind and name only")
    if isinstance(body, list):
        if not target:
            raise KustomizeError(f"{where}: a JSON patch needs a target")
        found = matching(objects, kind=target.get("kind"), name=target.get("name"))
        for obj in found:
            json_patch(obj, body)
    else:
        found = matching(objects, kind=target.get("kind", body["kind"]),
                         name=target.get("name", body["metadata"]["name"]))
        for obj in found:
            merge(obj, {k: v for k, v in body.items() if k not in ("apiVersion", "kind")})
    if not found:
        raise KustomizeError(f"{where}: a patch matches no object ({target or body.get('metadata')})")


def merge(into: dict[str, Any], patch: dict[str, Any]) -> None:
    """Strategic merge restricted to maps: lists in a patch would need merge keys."""
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            merge(into[key], value)
        elif isinstance(value, list):
            raise KustomizeError(f"strategic-merge patch sets a list ({key}); use a JSON patch")
        elif value is None:
            into.pop(key, None)
        else:
            into[key] = copy.deepcopy(value)


def json_patch(obj: dict[str, Any], operations: list[dict[str, Any]]) -> None:
    for operation in operations:
        parts = [p.replace("~1", "/").replace("~0", "~") for p in operation["path"].lstrip("/").split("/")]
        parent: Any = obj
        for part in parts[:-1]:
            parent = parent[int(part)] if isinstance(parent, list) else parent[part]
        last = parts[-1]
        op = operation["op"]
        if op == "add" and isinstance(parent, list):
            value = copy.deepcopy(operation["value"])
            parent.append(value) if last == "-" else parent.insert(int(last), value)
        elif op in ("add", "replace"):
            if isinstance(parent, list):
                parent[int(last)] = copy.deepcopy(operation["value"])
            else:
                parent[last] = copy.deepcopy(operation["value"])
        elif op == "remove":
            del parent[int(last) if isinstance(parent, list) else last]
        else:
            raise KustomizeError(f"unsupported JSON patch operation {op!r}")


def containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    spec = obj.get("spec") or {}
    if obj["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    pod = (spec.get("template") or {}).get("spec") or {}
    return [*pod.get("initContainers", []), *pod.get("containers", [])]


def set_image(container: dict[str, Any], item: dict[str, Any]) -> None:
    reference = container["image"]
    name, tag = split_image(reference)
    if name != item["name"]:
        return
    name = item.get("newName", name)
    tag = f":{item['newTag']}" if "newTag" in item else tag
    container["image"] = name + tag


def split_image(reference: str) -> tuple[str, str]:
    """``registry:5000/a/b:tag`` -> (``registry:5000/a/b``, ``:tag``)."""
    if "@" in reference:
        name, digest = reference.split("@", 1)
        return name, "@" + digest
    slash = reference.rfind("/")
    colon = reference.rfind(":")
    if colon > slash:
        return reference[:colon], reference[colon:]
    return reference, ""


def render(folder: Path) -> str:
    """One YAML stream, as ``kubectl kustomize`` prints it (objects separated by ``---``)."""
    return "---\n".join(yaml.safe_dump(obj, sort_keys=False, width=120) for obj in build(folder))
