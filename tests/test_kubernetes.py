"""Every module combination's Kubernetes manifests render with Kustomize and are valid Kubernetes.

Each combination is generated once; `kubectl kustomize` renders each overlay, and every document
is validated offline against the JSON schemas of a fixed Kubernetes release (kubernetes-validate,
strict: an unknown field is an error). Then what docs/deployment.md promises is checked on the
rendered objects: the modules' own parts exactly where the module is, hardened pods, the API's
probes, secrets by reference only, and overlays that really differ.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from .catalogue import REPO, catalogue, module_combinations
from .conftest import Generate

KUBERNETES_VERSION = "1.32"
OVERLAYS = ("demo", "small-country", "large-country")
MODULE_LABEL = "nation-stack/module"
SECRET_NAME = "stack-secrets"
SECRET_SETTINGS = {"SECRET_KEY", "DATABASE_URL"}
WORKLOADS = {"Deployment", "Job", "CronJob"}
CONTAINER_TMP = "/tmp"  # noqa: S108 - the pods' emptyDir, not a file of this test


def modules_with_parts() -> set[str]:
    """The modules that contribute Kubernetes objects (modules/<name>/copier/kubernetes.yaml.jinja)."""
    return {name for name in catalogue() if (REPO / "modules" / name / "copier" / "kubernetes.yaml.jinja").is_file()}


def kubectl() -> str:
    found = shutil.which("kubectl")
    if found is None:
        if os.environ.get("NATION_STACK_REQUIRE_KUBECTL"):
            pytest.fail("NATION_STACK_REQUIRE_KUBECTL is set but kubectl is not on PATH")
        pytest.skip("kubectl is not installed")
    return found


def render(overlay: Path) -> list[dict]:
    result = subprocess.run([kubectl(), "kustomize", str(overlay)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"kubectl kustomize {overlay.name} failed:\n{result.stderr}"
    return [document for document in yaml.safe_load_all(result.stdout) if document]


def pod_spec(document: dict) -> dict:
    if document["kind"] == "CronJob":
        return document["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return document["spec"]["template"]["spec"]


def containers(document: dict) -> Iterator[dict]:
    spec = pod_spec(document)
    yield from spec.get("initContainers", [])
    yield from spec["containers"]


def named(documents: list[dict], kind: str, name: str) -> dict:
    matches = [d for d in documents if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
    return matches[0]


def assert_valid_kubernetes(documents: list[dict], overlay: str) -> None:
    for document in documents:
        try:
            kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            name = f"{document['kind']}/{document['metadata']['name']}"
            pytest.fail(f"{overlay}: {name} is not valid Kubernetes {KUBERNETES_VERSION}: {error.message}")


def assert_hardened(document: dict) -> None:
    where = f"{document['kind']}/{document['metadata']['name']}"
    spec = pod_spec(document)
    assert spec["securityContext"]["runAsNonRoot"] is True, where
    assert spec["securityContext"]["runAsUser"] == 10001, where
    assert spec["automountServiceAccountToken"] is False, where
    for container in containers(document):
        context = container["securityContext"]
        assert context["readOnlyRootFilesystem"] is True, where
        assert context["allowPrivilegeEscalation"] is False, where
        assert context["capabilities"]["drop"] == ["ALL"], where
        assert {"cpu", "memory"} <= set(container["resources"]["requests"]), where
        assert {"cpu", "memory"} <= set(container["resources"]["limits"]), where
        # The read-only root's writable places are volumes, /tmp among them (HOME and TMPDIR point there).
        assert CONTAINER_TMP in {mount["mountPath"] for mount in container["volumeMounts"]}, where


def assert_secrets_by_reference(documents: list[dict]) -> None:
    assert [d for d in documents if d["kind"] == "Secret"] == []
    for document in (d for d in documents if d["kind"] == "ConfigMap"):
        assert not SECRET_SETTINGS & set(document.get("data", {})), document["metadata"]["name"]
    for document in (d for d in documents if d["kind"] in WORKLOADS):
        for container in containers(document):
            settings = {entry["name"]: entry for entry in container["env"]}
            for key in SECRET_SETTINGS:
                assert "value" not in settings[key], f"{document['metadata']['name']}: {key} has a value"
                assert settings[key]["valueFrom"]["secretKeyRef"] == {"name": SECRET_NAME, "key": key}


def command_of(document: dict) -> str:
    return " ".join(next(iter(pod_spec(document)["containers"]))["command"])


def assert_core_objects(documents: list[dict], package: str) -> None:
    api = named(documents, "Deployment", "api")
    container = next(c for c in api["spec"]["template"]["spec"]["containers"] if c["name"] == "api")
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == "/health"
    assert "upgrade" not in command_of(api)  # the API only serves; the Job migrates
    assert command_of(named(documents, "Job", "migrate")) == f"python -m {package} db upgrade"
    assert command_of(named(documents, "Deployment", "worker")) == f"python -m {package} worker"
    assert command_of(named(documents, "CronJob", "audit-checkpoint")) == f"python -m {package} audit checkpoint"
    assert f"python -m {package} db backup /backups/" in command_of(named(documents, "CronJob", "backup"))
    assert named(documents, "HorizontalPodAutoscaler", "api")["spec"]["scaleTargetRef"]["name"] == "api"
    assert named(documents, "PodDisruptionBudget", "api")
    ingress = named(documents, "NetworkPolicy", "api-ingress")["spec"]["ingress"]
    assert [port["port"] for rule in ingress for port in rule["ports"]] == [8000]
    egress = named(documents, "NetworkPolicy", "database-egress")["spec"]["egress"]
    assert 5432 in {port["port"] for rule in egress for port in rule["ports"]}
    https = named(documents, "NetworkPolicy", "https-egress")["spec"]
    assert https["podSelector"]["matchExpressions"][0]["values"] == ["api", "worker"]
    worker = named(documents, "NetworkPolicy", "worker-traffic")["spec"]
    assert [port["port"] for rule in worker["ingress"] for port in rule["ports"]] == [9464]  # its metrics
    assert [port["port"] for rule in worker["egress"] for port in rule["ports"]] == [587]  # SMTP submission
    config = next(d for d in documents if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("stack-config"))
    # The API hands long calls to the worker, which Prometheus can reach; the CronJob alone signs the chain.
    assert config["data"]["WORKER_HANDOFF"] == "true" and config["data"]["WORKER_METRICS_HOST"] == "0.0.0.0"  # noqa: S104 - in its pod
    assert json.loads(config["data"]["JOB_SCHEDULES"]) == {"core.audit_checkpoint": "off"}
    for document in (d for d in documents if d["kind"] in WORKLOADS):
        assert_hardened(document)


def sizing(documents: list[dict]) -> tuple:
    """What an overlay chooses: the API's autoscaling range and resources, the worker's replicas."""
    hpa = named(documents, "HorizontalPodAutoscaler", "api")["spec"]
    api = named(documents, "Deployment", "api")["spec"]["template"]["spec"]["containers"][0]["resources"]
    worker = named(documents, "Deployment", "worker")["spec"]["replicas"]
    return hpa["minReplicas"], hpa["maxReplicas"], api["requests"]["cpu"], api["limits"]["memory"], worker


@pytest.mark.parametrize("modules", module_combinations(), ids="+".join)
def test_overlays_render_valid_kubernetes_with_exactly_their_modules_parts(
    modules: tuple[str, ...], generate: Generate
) -> None:
    package = "stack_" + "_".join(modules)
    stack = generate(modules=list(modules), package_name=package)
    expected_parts = modules_with_parts() & set(modules)
    sizes = {}
    for overlay in OVERLAYS:
        documents = render(stack / "deploy" / "kubernetes" / "overlays" / overlay)
        assert_valid_kubernetes(documents, overlay)
        assert_core_objects(documents, package)
        assert_secrets_by_reference(documents)
        labelled = {d["metadata"].get("labels", {}).get(MODULE_LABEL) for d in documents} - {None}
        assert labelled == expected_parts, overlay
        if "payments" in modules:
            assert command_of(named(documents, "CronJob", "payments-ledger-check")).endswith("payments ledger-check")
        sizes[overlay] = sizing(documents)
    # Each overlay sizes the stack its own way, and the large country runs the most API pods.
    assert len(set(sizes.values())) == len(OVERLAYS)
    assert sizes["large-country"][0] > sizes["small-country"][0] > sizes["demo"][0]
    assert sizes["large-country"][4] > sizes["demo"][4]
