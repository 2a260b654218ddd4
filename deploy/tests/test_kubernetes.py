"""The Kubernetes manifests: current, valid against the API schemas, and safe by construction."""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from hotelbook_chassis.config import PORTS, env_name
from hotelbook_stack import kubernetes as k8s
from hotelbook_stack import kustomize
from hotelbook_stack.services import BY_NAME, SERVICES

KUBERNETES_VERSION = "1.37.0"
OVERLAYS = ("dev", "production")


@pytest.fixture(scope="module", params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> tuple[str, list[dict[str, Any]]]:
    return request.param, kustomize.build(k8s.TREE / "overlays" / request.param)


def of_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {obj["metadata"]["name"]: obj for obj in objects if obj["kind"] == kind}


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    spec = obj["spec"]["jobTemplate"]["spec"] if obj["kind"] == "CronJob" else obj["spec"]
    return spec["template"]["spec"]


def workloads(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] in ("Deployment", "StatefulSet", "Job", "CronJob")]


def expected_deployments(overlay_name: str) -> set[str]:
    names = {"gateway", *(s.name for s in SERVICES if s.name not in k8s.DEV_ONLY)}
    return names | ({"smtp", *k8s.DEV_ONLY} if overlay_name == "dev" else set())


# --- the tree is what the generator writes --------------------------------------------


def test_committed_tree_is_generated_from_the_service_list() -> None:
    stale = [str(path) for path, text in k8s.tree().items() if not (k8s.TREE / path).is_file()
             or (k8s.TREE / path).read_text() != text]
    assert not stale, f"run `python -m hotelbook_stack.kubernetes --write`; stale: {stale}"


def test_no_secret_objects_in_the_repository(overlay) -> None:
    _, objects = overlay
    assert not of_kind(objects, "Secret")
    for path in k8s.TREE.rglob("*.yaml"):
        assert "kind: Secret" not in path.read_text(), path


# --- every object valid for a current Kubernetes ----------------------------------------


def test_every_object_validates_strictly(overlay) -> None:
    _, objects = overlay
    assert objects
    for obj in objects:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_the_validator_refuses_an_unknown_field(overlay) -> None:
    _, objects = overlay
    broken = copy.deepcopy(next(iter(of_kind(objects, "Deployment").values())))
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_renderer_agrees_with_kubectl_kustomize() -> None:
    if not shutil.which("kubectl"):
        pytest.skip("kubectl not installed (CI checks the Python renderer alone)")
    for name in OVERLAYS:
        folder = k8s.TREE / "overlays" / name
        output = subprocess.run(["kubectl", "kustomize", str(folder)], capture_output=True, text=True, check=True)
        theirs = {(o["kind"], o["metadata"]["name"]): o for o in yaml.safe_load_all(output.stdout) if o}
        ours = {(o["kind"], o["metadata"]["name"]): o for o in kustomize.build(folder)}
        assert ours == theirs


def test_renderer_refuses_what_it_does_not_implement(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources: []\ncommonLabels: {a: b}\n")
    with pytest.raises(kustomize.KustomizeError, match="commonLabels"):
        kustomize.build(tmp_path)


# --- topology matches the service list ----------------------------------------------------


def test_one_deployment_per_service_on_its_port(overlay) -> None:
    name, objects = overlay
    deployments = of_kind(objects, "Deployment")
    assert set(deployments) == expected_deployments(name)
    services = of_kind(objects, "Service")
    for service in SERVICES:
        if service.name not in deployments:
            continue
        container = pod_spec(deployments[service.name])["containers"][0]
        assert container["ports"] == [{"name": "http", "containerPort": PORTS[service.name]}]
        assert services[service.name]["spec"]["ports"][0]["port"] == PORTS[service.name]
        assert container["command"][-1] == service.app
    assert services["gateway"]["spec"]["ports"][0]["port"] == PORTS["gateway"]


def test_peer_urls_follow_the_peers(overlay) -> None:
    _, objects = overlay
    deployments = of_kind(objects, "Deployment")
    for service in SERVICES:
        if service.name not in deployments:
            continue
        env = {e["name"]: e.get("value") for e in pod_spec(deployments[service.name])["containers"][0]["env"]}
        for peer in service.peers:
            if peer in k8s.DEV_ONLY:
                continue  # a setting (BANK_URL): the real bank is outside the cluster
            assert env[f"{env_name(peer)}_URL"] == f"http://{peer}:{PORTS[peer]}", (service.name, peer)
        assert ("CLIENT_ID" in env) == (service.client is not None), service.name


def test_only_the_gateway_is_public(overlay) -> None:
    name, objects = overlay
    for service_name, service in of_kind(objects, "Service").items():
        if service_name == "gateway" and name == "production":
            assert service["spec"]["type"] == "LoadBalancer"
        else:
            assert service["spec"].get("type", "ClusterIP") == "ClusterIP", service_name
    assert not of_kind(objects, "Ingress")


def test_gateway_routes_to_the_public_services() -> None:
    objects = kustomize.build(k8s.TREE / "overlays" / "production")
    container = pod_spec(of_kind(objects, "Deployment")["gateway"])["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    routes = dict(item.split("=") for item in env["GATEWAY_UPSTREAMS"].split())
    assert routes == {name: f"{name}:{PORTS[name]}" for name in k8s.gateway_routes()}


# --- every pod is hardened and bounded -----------------------------------------------------


def test_every_container_is_non_root_read_only_and_bounded(overlay) -> None:
    _, objects = overlay
    for obj in workloads(objects):
        spec = pod_spec(obj)
        assert spec["securityContext"]["runAsNonRoot"] is True, obj["metadata"]["name"]
        assert spec["securityContext"]["runAsUser"] != 0
        assert spec["automountServiceAccountToken"] is False
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        claims = {c["metadata"]["name"] for c in obj["spec"].get("volumeClaimTemplates", [])}
        for container in spec["containers"]:
            where = f"{obj['kind']}/{obj['metadata']['name']}"
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["capabilities"]["drop"] == ["ALL"], where
            for key in ("cpu", "memory"):
                assert container["resources"]["requests"][key] and container["resources"]["limits"][key], where
            # A read-only root works only with every writable path declared.
            assert any(m["mountPath"] == "/tmp" for m in container["volumeMounts"]), where
            for mount in container["volumeMounts"]:
                assert mount["name"] in claims or "emptyDir" in volumes[mount["name"]], where


def test_every_long_running_container_has_probes(overlay) -> None:
    _, objects = overlay
    for obj in objects:
        if obj["kind"] not in ("Deployment", "StatefulSet"):
            continue
        for container in pod_spec(obj)["containers"]:
            assert "readinessProbe" in container and "livenessProbe" in container, obj["metadata"]["name"]
            if obj["metadata"]["name"] in BY_NAME:
                assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
                assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
                assert container["startupProbe"]["httpGet"]["path"] == "/healthz"


def test_stateless_services_autoscale_and_survive_disruptions(overlay) -> None:
    name, objects = overlay
    hpas, pdbs = of_kind(objects, "HorizontalPodAutoscaler"), of_kind(objects, "PodDisruptionBudget")
    assert set(hpas) == set(k8s.stateless())
    for deployment in k8s.stateless():
        assert pdbs[deployment]["spec"]["maxUnavailable"] == 1
    if name == "production":
        assert all(of_kind(objects, "Deployment")[d]["spec"]["replicas"] >= 2 for d in k8s.stateless())
        assert all(h["spec"]["minReplicas"] >= 2 for h in hpas.values())


# --- network: deny by default, then exactly the calls the code makes ------------------------


def test_every_workload_has_a_network_policy(overlay) -> None:
    _, objects = overlay
    policies = of_kind(objects, "NetworkPolicy")
    assert policies["default-deny"]["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    selected = {p["spec"]["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/name")
                for p in policies.values()}
    for obj in workloads(objects):
        labels = pod_spec_labels(obj)
        assert labels["app.kubernetes.io/name"] in selected, obj["metadata"]["name"]


def pod_spec_labels(obj: dict[str, Any]) -> dict[str, str]:
    spec = obj["spec"]["jobTemplate"]["spec"] if obj["kind"] == "CronJob" else obj["spec"]
    return spec["template"]["metadata"]["labels"]


def test_services_are_reachable_only_by_the_gateway_and_their_callers(overlay) -> None:
    _, objects = overlay
    policies = of_kind(objects, "NetworkPolicy")
    public = set(k8s.gateway_routes())
    for service in SERVICES:
        if service.name not in policies:
            continue
        rules = policies[service.name]["spec"]["ingress"]
        sources = {peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
                   for rule in rules for peer in rule.get("from", [])}
        expected = {s.name for s in SERVICES if service.name in s.peers and s.name != service.name}
        if service.name == "auth":
            expected |= {s.name for s in SERVICES if s.name not in k8s.NO_JWKS}
        if service.name in public:
            expected.add("gateway")
        assert sources == expected, service.name
        assert all(rule.get("from") for rule in rules), f"{service.name}: an ingress rule open to all"
        assert all(p["port"] == service.port for rule in rules for p in rule["ports"])


def test_gateway_reaches_only_public_services() -> None:
    objects = kustomize.build(k8s.TREE / "overlays" / "production")
    egress = of_kind(objects, "NetworkPolicy")["gateway"]["spec"]["egress"]
    targets = {peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
               for rule in egress for peer in rule.get("to", [])
               if "podSelector" in peer and "namespaceSelector" not in peer}
    assert targets == set(k8s.gateway_routes())
    assert "pdf-reporting" not in targets


# --- migrations and housekeeping --------------------------------------------------------------


def test_a_migration_job_per_database(overlay) -> None:
    name, objects = overlay
    jobs = of_kind(objects, "Job")
    wanted = {f"{s.name}-migrate" for s in SERVICES if s.has_database and (name == "dev" or s.name not in k8s.DEV_ONLY)}
    assert set(jobs) == wanted
    for service in SERVICES:
        job = jobs.get(f"{service.name}-migrate")
        if job:
            script = pod_spec(job)["containers"][0]["command"][-1]
            assert all(f"flask --app {app} db upgrade" in script for app in service.flask_apps)


def test_housekeeping_runs_as_cron_jobs_one_at_a_time(overlay) -> None:
    _, objects = overlay
    crons = of_kind(objects, "CronJob")
    assert {"reservations-sweep", "payments-reconcile", "booking-ui-purge-sessions", "auth-tokens-purge"} <= set(crons)
    for cron in crons.values():
        assert cron["spec"]["concurrencyPolicy"] == "Forbid"


def test_databases_per_service() -> None:
    dev = kustomize.build(k8s.TREE / "overlays" / "dev")
    production = kustomize.build(k8s.TREE / "overlays" / "production")
    with_db = {s.name for s in SERVICES if s.has_database}
    assert set(of_kind(dev, "StatefulSet")) == {f"{name}-postgres" for name in with_db}
    assert not of_kind(production, "StatefulSet")
    for deployment in of_kind(production, "Deployment").values():
        for env in pod_spec(deployment)["containers"][0]["env"]:
            if env["name"] == "DATABASE_URL":
                assert env["valueFrom"]["secretKeyRef"]["name"] == f"{deployment['metadata']['name']}-database"


def test_client_scopes_in_the_secrets_script_follow_the_service_list() -> None:
    script = (k8s.TREE / "secrets.sh").read_text()
    for service in SERVICES:
        if service.client:
            grants, scopes = service.client
            assert f"{service.name} {grants.replace(' ', ',')} {scopes.replace(' ', ',')}\n" in script
    assert subprocess.run(["bash", "-n", str(k8s.TREE / "secrets.sh")], check=False).returncode == 0
