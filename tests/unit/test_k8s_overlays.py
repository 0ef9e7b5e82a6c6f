"""k8s/ as users apply it: every overlay rendered by kustomize, every object schema-checked.

Rendering: the pinned kustomize that ``scripts/kustomize.sh`` builds with ``go install`` (the
same renderer as ``kubectl apply -k``; a Python re-implementation of strategic merge and
components would check itself rather than the manifests). Built-in kinds: ``kubernetes-validate``
(strict, offline) against Kubernetes 1.30 and the newest it ships; KEDA's ScaledObject and the
Prometheus Operator's ServiceMonitor: their CRD schemas vendored in tests/fixtures/crds/.
Then what the objects must say to each other and to modelmon's settings: autoscalers bounded by
partitions, lag triggers on the services' real groups and topics, budgets, spread, probes,
scrapes, NetworkPolicies and grace periods.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from modelmon.settings import (
    AggregatorSettings,
    AlertingSettings,
    ArchiverSettings,
    LabelJoinSettings,
    TopicSettings,
)

ROOT = Path(__file__).resolve().parents[2]
CRDS = ROOT / "tests" / "fixtures" / "crds"
OVERLAYS = ("small", "production", "production-without-keda")
K8S_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())
DEPLOYED = (
    "aggregator", "detector", "archiver", "capture-proxy", "ingest", "alerting", "api",
    "labeljoin", "explainer",
)  # fmt: skip
HTTP = ("api", "ingest", "capture-proxy")
CONSUMERS = tuple(s for s in DEPLOYED if s not in HTTP)
_TOPICS = TopicSettings()
_LJ = LabelJoinSettings()
# What each consumer service reads: (consumer group, topic or None for all of the group's, the
# ConfigMap key of the partition count bounding its replicas, its default).
GROUPS: dict[str, list[tuple[str, str | None]]] = {
    "aggregator": [(AggregatorSettings().group, _TOPICS.capture)],
    "archiver": [(ArchiverSettings().group_id, _TOPICS.capture)],
    "alerting": [(AlertingSettings().group, _TOPICS.alerts)],
    "labeljoin": [(_LJ.router_group, None), (_LJ.join_group, _LJ.topic)],
    "explainer": [("modelmon-explainer", _TOPICS.capture)],
}
BOUND = {
    "aggregator": ("MODELMON_TOPICS__CAPTURE_PARTITIONS", _TOPICS.capture_partitions),
    "archiver": ("MODELMON_TOPICS__CAPTURE_PARTITIONS", _TOPICS.capture_partitions),
    "detector": ("MODELMON_TOPICS__CAPTURE_PARTITIONS", _TOPICS.capture_partitions),
    "explainer": ("MODELMON_TOPICS__CAPTURE_PARTITIONS", _TOPICS.capture_partitions),
    "alerting": ("MODELMON_TOPICS__ALERTS_PARTITIONS", _TOPICS.alerts_partitions),
    "labeljoin": ("MODELMON_LABELJOIN__PARTITIONS", _LJ.partitions),
}
# The shortest clean stop of each service, in seconds: the bounded waits on its SIGTERM path
# (docs/kubernetes.md, "Stopping"): Redis client socket timeout (adapters/redis.py) 10, producer
# flush on close 10, Kafka transaction commit 30, one S3 request (botocore read timeout) 60.
REDIS, PRODUCER, TXN, S3 = 10, 10, 30, 60
STOP_PATH = {
    "aggregator": AggregatorSettings().flush_seconds + REDIS + PRODUCER,
    "labeljoin": _LJ.flush_seconds + TXN + REDIS + PRODUCER,
    "explainer": TXN + PRODUCER,
    "archiver": S3 + REDIS,
    "detector": S3 + PRODUCER,
    "alerting": REDIS + PRODUCER,
}


@cache
def kustomize() -> str:
    """The pinned kustomize, built by the project's own install step when missing."""
    script = ROOT / "scripts" / "kustomize.sh"
    done = subprocess.run(["bash", str(script)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"scripts/kustomize.sh failed:\n{done.stderr}"
    return str(ROOT / ".venv" / "bin" / "kustomize")


@cache
def render(target: str) -> tuple[dict[str, Any], ...]:
    done = subprocess.run(
        [kustomize(), "build", str(ROOT / target)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"kustomize build {target}:\n{done.stderr}"
    return tuple(d for d in yaml.safe_load_all(done.stdout) if d)


def objects(overlay: str, kind: str) -> dict[str, dict[str, Any]]:
    docs = render(f"k8s/overlays/{overlay}")
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def config(overlay: str) -> dict[str, str]:
    data: dict[str, str] = objects(overlay, "ConfigMap")["modelmon-config"]["data"]
    return data


def _crd_module() -> Any:
    spec = importlib.util.spec_from_file_location("crd_convert", CRDS / "convert.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@cache
def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> the vendored JSON Schema."""
    out = {}
    for path in CRDS.glob("*.json"):
        schema = json.loads(path.read_text())
        [api_version] = schema["properties"]["apiVersion"]["enum"]
        [kind] = schema["properties"]["kind"]["enum"]
        out[(api_version, kind)] = schema
    return out


def schema_errors(doc: dict[str, Any]) -> list[str]:
    """Every way ``doc`` breaks its schema (built-in kinds: each Kubernetes version)."""
    key = (doc["apiVersion"], doc["kind"])
    if key in crd_schemas():
        validator = jsonschema.Draft7Validator(crd_schemas()[key])
        return [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(doc)]
    errors = []
    for version in K8S_VERSIONS:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{version} {list(exc.path)}: {exc.message}")
    return errors


# --- rendering and schemas --------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_rendered_object_passes_its_strict_schema(overlay: str) -> None:
    docs = render(f"k8s/overlays/{overlay}")
    assert len(docs) > len(DEPLOYED)
    problems = {f"{d['kind']}/{d['metadata']['name']}": schema_errors(d) for d in docs}
    assert {name: errs for name, errs in problems.items() if errs} == {}


def test_the_schemas_reject_broken_objects() -> None:
    """The check can fail: a typo, a wrong type and an unknown field in each kind of schema."""
    good = json.dumps(objects("small", "Deployment")["modelmon-aggregator"])
    deployment = json.loads(good)
    deployment["spec"]["replicas"] = "two"
    assert len(schema_errors(deployment)) == len(K8S_VERSIONS)  # the first error per version
    deployment = json.loads(good)
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    assert len(schema_errors(deployment)) == len(K8S_VERSIONS)
    scaled = json.loads(json.dumps(objects("production", "ScaledObject")["modelmon-aggregator"]))
    scaled["spec"]["maxReplicaCount"] = "12"
    scaled["spec"]["triggers"][0]["metadataa"] = {}
    assert len(schema_errors(scaled)) == 2
    monitor = json.loads(json.dumps(objects("production", "ServiceMonitor")["modelmon"]))
    monitor["spec"]["endpoints"][0]["intervall"] = "15s"
    assert len(schema_errors(monitor)) == 1
    with pytest.raises(kubernetes_validate.SchemaNotFoundError):
        kubernetes_validate.validate({**deployment, "kind": "Deploymen"}, "1.30.0", strict=True)


def test_the_vendored_crd_schemas_are_what_convert_makes() -> None:
    generated = _crd_module().generated()
    assert set(generated) == {p.name for p in CRDS.glob("*.json")}
    for name, text in generated.items():
        assert (CRDS / name).read_text() == text, f"run tests/fixtures/crds/convert.py ({name})"
    assert {k for _, k in crd_schemas()} == {"ScaledObject", "ServiceMonitor"}


def test_k8s_renders_the_small_overlay() -> None:
    assert render("k8s") == render("k8s/overlays/small")


# --- what each overlay holds --------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_one_deployment_per_service(overlay: str) -> None:
    assert set(objects(overlay, "Deployment")) == {f"modelmon-{s}" for s in DEPLOYED}


def test_small_is_one_replica_each_and_no_autoscaler() -> None:
    assert {d["spec"]["replicas"] for d in objects("small", "Deployment").values()} == {1}
    kinds = {d["kind"] for d in render("k8s/overlays/small")}
    assert not kinds & {"ScaledObject", "HorizontalPodAutoscaler", "PodDisruptionBudget"}
    assert "NetworkPolicy" in kinds


@pytest.mark.parametrize("overlay", ["production", "production-without-keda"])
def test_production_holds_budgets_monitoring_and_the_dashboard(overlay: str) -> None:
    kinds = {d["kind"] for d in render(f"k8s/overlays/{overlay}")}
    assert {"PodDisruptionBudget", "ServiceMonitor", "NetworkPolicy"} <= kinds
    dashboard = objects(overlay, "ConfigMap")["modelmon-grafana-dashboard"]
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    shipped = (ROOT / "deploy" / "grafana" / "modelmon-dashboard.json").read_text()
    assert json.loads(dashboard["data"]["modelmon-dashboard.json"]) == json.loads(shipped)


def test_production_uses_keda_and_the_fallback_uses_cpu() -> None:
    scaled = objects("production", "ScaledObject")
    assert set(scaled) == {f"modelmon-{s}" for s in CONSUMERS}
    hpa = objects("production", "HorizontalPodAutoscaler")
    assert set(hpa) == {f"modelmon-{s}" for s in HTTP}, "never an HPA beside a ScaledObject"
    assert objects("production-without-keda", "ScaledObject") == {}
    fallback = objects("production-without-keda", "HorizontalPodAutoscaler")
    assert set(fallback) == {f"modelmon-{s}" for s in DEPLOYED}


# --- autoscaling --------------------------------------------------------------------------------


def _bound(overlay: str, service: str) -> int:
    key, default = BOUND[service]
    return int(config(overlay).get(key, default))


@pytest.mark.parametrize("service", CONSUMERS)
def test_lag_scaling_is_bounded_by_the_partitions(service: str) -> None:
    for overlay in ("production", "production-without-keda"):
        scaler = {
            **objects(overlay, "ScaledObject"), **objects(overlay, "HorizontalPodAutoscaler")
        }[f"modelmon-{service}"]  # fmt: skip
        spec = scaler["spec"]
        low = spec.get("minReplicaCount", spec.get("minReplicas"))
        high = spec.get("maxReplicaCount", spec.get("maxReplicas"))
        assert 1 <= low <= high == _bound(overlay, service), (overlay, service)
        target = spec["scaleTargetRef"]["name"]
        assert target == f"modelmon-{service}" in objects(overlay, "Deployment")


@pytest.mark.parametrize("service", sorted(GROUPS))
def test_keda_reads_the_services_own_groups_and_topics(service: str) -> None:
    spec = objects("production", "ScaledObject")[f"modelmon-{service}"]["spec"]
    kafka = [t["metadata"] for t in spec["triggers"] if t["type"] == "kafka"]
    assert [(m["consumerGroup"], m.get("topic")) for m in kafka] == GROUPS[service]
    for meta in kafka:
        assert meta["bootstrapServersFromEnv"] in config("production")
        assert int(meta["lagThreshold"]) > 0
        assert meta["allowIdleConsumers"] == "false", "replicas past the partitions sit idle"
    deployment = objects("production", "Deployment")[f"modelmon-{service}"]
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    refs = [r["configMapRef"]["name"] for r in container["envFrom"] if "configMapRef" in r]
    assert refs == ["modelmon-config"], "KEDA resolves *FromEnv from the container's env"


def test_the_detector_scales_on_its_evaluation_delay() -> None:
    [trigger] = objects("production", "ScaledObject")["modelmon-detector"]["spec"]["triggers"]
    assert trigger["type"] == "prometheus"
    assert "modelmon_detector_evaluation_delay_seconds" in trigger["metadata"]["query"]


# --- availability -------------------------------------------------------------------------------


def _pod_labels(overlay: str) -> dict[str, dict[str, str]]:
    return {
        name: d["spec"]["template"]["metadata"]["labels"]
        for name, d in objects(overlay, "Deployment").items()
    }


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions", []):
        assert expr["operator"] == "In", expr
        if labels.get(expr["key"]) not in expr["values"]:
            return False
    return True


def test_each_service_has_a_budget_that_allows_a_drain() -> None:
    pods = _pod_labels("production")
    for name, pdb in objects("production", "PodDisruptionBudget").items():
        selected = [d for d, labels in pods.items() if _selects(pdb["spec"]["selector"], labels)]
        assert selected == [name]
        assert pdb["spec"]["maxUnavailable"] == 1 and "minAvailable" not in pdb["spec"]
    assert set(objects("production", "PodDisruptionBudget")) == set(pods)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_replicas_spread_over_nodes_and_zones(overlay: str) -> None:
    for name, deployment in objects(overlay, "Deployment").items():
        template = deployment["spec"]["template"]
        spread = template["spec"]["topologySpreadConstraints"]
        keys = {c["topologyKey"] for c in spread}
        assert keys == {"kubernetes.io/hostname", "topology.kubernetes.io/zone"}, name
        for constraint in spread:
            assert _selects(constraint["labelSelector"], template["metadata"]["labels"]), name
            assert constraint["whenUnsatisfiable"] == "ScheduleAnyway", "small clusters too"


@pytest.mark.parametrize("service", DEPLOYED)
def test_grace_period_covers_the_stop_path(service: str) -> None:
    deployment = objects("production", "Deployment")[f"modelmon-{service}"]
    grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace >= STOP_PATH.get(service, PRODUCER) + 5, service


# --- monitoring and network ---------------------------------------------------------------------


def test_the_service_monitor_scrapes_every_pods_admin_port() -> None:
    monitor = objects("production", "ServiceMonitor")["modelmon"]
    services = objects("production", "Service")
    [target] = [
        s for s in services.values()
        if _selects(monitor["spec"]["selector"], s["metadata"].get("labels", {}))
    ]  # fmt: skip
    [endpoint] = monitor["spec"]["endpoints"]
    assert endpoint["path"] == "/metrics"
    [port] = [p for p in target["spec"]["ports"] if p["name"] == endpoint["port"]]
    assert target["spec"]["clusterIP"] == "None"
    for name, deployment in objects("production", "Deployment").items():
        template = deployment["spec"]["template"]
        assert _selects({"matchLabels": target["spec"]["selector"]}, template["metadata"]["labels"])
        [container] = template["spec"]["containers"]
        named = {p["name"]: p["containerPort"] for p in container["ports"]}
        annotations = template["metadata"]["annotations"]
        assert str(named[port["targetPort"]]) == annotations["prometheus.io/port"], name


def _ingress_ports(overlay: str, labels: dict[str, str]) -> set[str]:
    """Named ports some NetworkPolicy lets in to pods with ``labels``."""
    ports: set[str] = set()
    for policy in objects(overlay, "NetworkPolicy").values():
        if _selects(policy["spec"]["podSelector"], labels):
            for rule in policy["spec"].get("ingress", []):
                ports |= {p["port"] for p in rule.get("ports", [])}
                assert rule.get("ports"), "a rule without ports opens every port"
    return ports


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policies_let_in_only_what_must_reach_each_service(overlay: str) -> None:
    policies = objects(overlay, "NetworkPolicy").values()
    for name, labels in _pod_labels(overlay).items():
        service = labels["app.kubernetes.io/component"]
        isolated = [p for p in policies if _selects(p["spec"]["podSelector"], labels)
                    and "Ingress" in p["spec"]["policyTypes"]]  # fmt: skip
        assert isolated, f"{name}: no policy isolates it"
        want = {"admin", "http"} if service in HTTP else {"admin"}
        assert _ingress_ports(overlay, labels) == want, name


@pytest.mark.parametrize("service", sorted(GROUPS))
def test_each_lag_scaled_service_exports_its_lag(service: str) -> None:
    """What KEDA scales on is on the dashboard too: the service registers the lag gauge for
    every group it consumes (modelmon.adapters.lag; its behaviour: tests/integration/
    test_consumer_lag.py). A service still to land is checked once its package exists."""
    package = ROOT / "services" / service
    if not package.is_dir():
        assert service == "explainer", f"services/{service} is missing"
        return
    source = "\n".join(p.read_text() for p in package.glob("*.py"))
    calls = source.count("watch_lag(")
    assert calls == 1, f"services/{service}: one watch_lag(...) call for all its consumers"
