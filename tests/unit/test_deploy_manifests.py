"""docker-compose.yml and k8s/ checked without Docker or a cluster.

Compose: validated against the Compose Specification's JSON Schema (tests/fixtures), then
checked for what modelmon needs. Kubernetes: kind/apiVersion/required fields, probes, resources,
one Deployment per service, and consistency with settings, the CLI and the local stack.
"""

from __future__ import annotations

import importlib
import re
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import click
import jsonschema
import pytest
import yaml
from pydantic import BaseModel

from modelmon.settings import Settings, TopicSettings

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "k8s" / "base"
# Every modelmon service DESIGN.md names; a services/<dir> not in here fails the test below.
SERVICES = (
    "aggregator", "detector", "archiver", "capture-proxy", "ingest", "alerting", "api",
    "labeljoin", "explainer",
)  # fmt: skip
# The services whose code is on this branch (a service is deployed before it lands: the
# explainer's manifests are checked against its command and settings once its package exists).
WRITTEN = tuple(s for s in SERVICES if (ROOT / "services" / s.replace("-", "_")).is_dir())
INFRA = {"kafka", "kafka-init", "redis", "moto"}
# Where each service's /healthz /readyz /metrics listen: (address variable, port variable,
# name of the container port): the shared admin section (/metrics never on a service port).
_SHARED = ("MODELMON_ADMIN__HOST", "MODELMON_ADMIN__PORT", "admin")
ADMIN = {name: _SHARED for name in SERVICES}


def _version() -> str:
    with (ROOT / "pyproject.toml").open("rb") as handle:
        return str(tomllib.load(handle)["project"]["version"])


IMAGE = f"modelmon:{_version()}"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture(scope="module")
def k8s_docs() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted(BASE.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc is not None:
                doc["__file__"] = path.name
                docs.append(doc)
    return docs


@cache
def _command(service: str) -> click.Command:
    module = importlib.import_module(f"modelmon_services.{service.replace('-', '_')}")
    command = module.command
    assert isinstance(command, click.Command)
    return command


def _service_envvars(service: str) -> set[str]:
    """The environment variables the service's own command line reads."""
    return {p.envvar for p in _command(service).params if isinstance(p.envvar, str)}


def _env_problem(name: str, service: str | None) -> str | None:
    """Why ``name`` (a MODELMON_* variable) is read by nothing, or None if something reads it."""
    if service is not None and name in _service_envvars(service):
        return None
    path = name.removeprefix("MODELMON_").lower().split("__")
    fields = Settings.model_fields
    if path[0] not in fields:
        return f"{name}: neither a setting nor an option of {service or 'any service'}"
    if len(path) == 1:
        return None
    section = fields[path[0]].annotation
    if not (isinstance(section, type) and issubclass(section, BaseModel)):
        return f"{name}: {path[0]} is not a section"
    return (
        None if path[1] in section.model_fields else f"{name}: {section.__name__} has no {path[1]}"
    )


def _default_of(name: str, service: str) -> Any:
    """The default of a MODELMON_* variable: the service's option, else the setting."""
    for param in _command(service).params:
        if param.envvar == name:
            return param.default
    section, field = name.removeprefix("MODELMON_").lower().split("__")
    model = Settings.model_fields[section].annotation
    assert isinstance(model, type) and issubclass(model, BaseModel)
    return model.model_fields[field].default


def _check_env(env: dict[str, Any], service: str | None = None) -> list[str]:
    problems = [_env_problem(k, service) for k in env if k.startswith("MODELMON_")]
    return [p for p in problems if p]


def _required_flags_given(service: str, argv: list[str]) -> list[str]:
    """Required options of the service's command that ``argv`` does not pass."""
    required = [p for p in _command(service).params if isinstance(p, click.Option) and p.required]
    return [p.opts[0] for p in required if not set(p.opts) & set(argv)]


# --- docker-compose.yml ---------------------------------------------------------------------


def _compose_errors(document: dict[str, Any]) -> list[str]:
    import json

    schema = json.loads((ROOT / "tests" / "fixtures" / "compose-spec.json").read_text())
    validator_cls = jsonschema.validators.validator_for(schema, jsonschema.Draft201909Validator)
    errors = sorted(validator_cls(schema).iter_errors(document), key=lambda e: list(e.path))
    return [f"{list(e.path)}: {e.message}" for e in errors]


def test_compose_validates_against_the_compose_spec(compose: dict[str, Any]) -> None:
    assert _compose_errors(compose) == []


def test_the_compose_schema_rejects_a_broken_file() -> None:
    broken = {
        "services": {
            "a": {"image": "x", "restart": "always", "imagee": "typo"},
            "b": {"image": "x", "depends_on": {"a": {"condition": "when_ready"}}},
        }
    }
    errors = _compose_errors(broken)
    assert len(errors) == 2
    assert "imagee" in errors[0]
    assert "when_ready" in errors[1]


def test_compose_has_the_infrastructure_and_every_service(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == INFRA | set(SERVICES)


@pytest.mark.parametrize("name", WRITTEN)
def test_compose_service_runs_modelmon(compose: dict[str, Any], name: str) -> None:
    svc = compose["services"][name]
    assert svc["image"] == IMAGE
    assert svc["build"]["dockerfile"] == "deploy/docker/Dockerfile"
    assert (ROOT / svc["build"]["dockerfile"]).is_file()
    assert svc["command"][:2] == ["run", name]
    assert _required_flags_given(name, svc["command"]) == []
    assert svc["depends_on"]["kafka-init"]["condition"] == "service_completed_successfully"
    assert _check_env(svc["environment"], name) == []
    assert svc["environment"]["MODELMON_KAFKA__BOOTSTRAP_SERVERS"] == "kafka:9092"
    probe = " ".join(svc["healthcheck"]["test"])
    port = re.search(r"127\.0\.0\.1:(\d+)/healthz", probe)
    assert port is not None
    host_env, port_env, _ = ADMIN[name]
    assert port.group(1) == svc["environment"][port_env]
    assert svc["environment"][host_env] == "0.0.0.0", "a Prometheus on the network cannot scrape"


def test_compose_publishes_only_on_loopback(compose: dict[str, Any]) -> None:
    published = [p for s in compose["services"].values() for p in s.get("ports", [])]
    assert published
    assert all(str(p).startswith("127.0.0.1:") for p in published)


def test_compose_versions_match_the_local_stack(compose: dict[str, Any]) -> None:
    pom = (ROOT / "deploy/local/kafka/pom.xml").read_text()
    kafka = re.search(r"<kafka.version>([^<]+)</kafka.version>", pom)
    moto = re.search(r"^moto==(\S+)", (ROOT / "requirements/lock.txt").read_text(), re.M)
    assert kafka is not None and moto is not None
    assert compose["services"]["kafka"]["image"] == f"apache/kafka:{kafka.group(1)}"
    assert compose["services"]["kafka-init"]["image"] == f"apache/kafka:{kafka.group(1)}"
    assert compose["services"]["moto"]["image"] == f"motoserver/moto:{moto.group(1)}"


def test_compose_hosts_the_services_name(compose: dict[str, Any]) -> None:
    """Every ``host.docker.internal`` a service reaches (the proxy's default upstream) resolves
    on Linux too, where Docker defines it only when told to (``host-gateway``)."""
    for name, svc in compose["services"].items():
        if "host.docker.internal" in yaml.safe_dump(svc.get("command", "")):
            assert "host.docker.internal:host-gateway" in svc.get("extra_hosts", []), name
    assert "host.docker.internal" in " ".join(compose["services"]["capture-proxy"]["command"])


def test_compose_creates_the_topics_the_stack_creates(compose: dict[str, Any]) -> None:
    script = compose["services"]["kafka-init"]["command"][0]
    defaults = TopicSettings()
    for topic, parts in (
        (defaults.capture, defaults.capture_partitions),
        (defaults.alerts, defaults.alerts_partitions),
        (defaults.deadletter, defaults.deadletter_partitions),
        (defaults.labels, defaults.labels_partitions),
    ):
        assert f"{topic}:{parts}" in script


# --- k8s/ -----------------------------------------------------------------------------------

_REQUIRED = {
    ("apps/v1", "Deployment"): ["spec.selector.matchLabels", "spec.template.spec.containers"],
    ("v1", "Service"): ["spec.selector", "spec.ports"],
    ("v1", "ConfigMap"): ["data"],
}


def _get(doc: dict[str, Any], dotted: str) -> Any:
    node: Any = doc
    for key in dotted.split("."):
        node = node[key]
    return node


def _of_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def test_k8s_documents_have_known_kinds_and_required_fields(
    k8s_docs: list[dict[str, Any]],
) -> None:
    for doc in k8s_docs:
        if doc["kind"] == "Kustomization":
            continue
        key = (doc.get("apiVersion"), doc.get("kind"))
        assert key in _REQUIRED, f"{doc['__file__']}: unexpected {key}"
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", doc["metadata"]["name"])
        for dotted in _REQUIRED[key]:
            assert _get(doc, dotted), f"{doc['__file__']}: {dotted} is empty"


def test_k8s_kustomization_lists_every_file(k8s_docs: list[dict[str, Any]]) -> None:
    [kustomization] = [d for d in k8s_docs if d["kind"] == "Kustomization"]
    files = {p.name for p in BASE.glob("*.yaml")} - {"kustomization.yaml"}
    assert sorted(kustomization["resources"]) == sorted(files)


def test_k8s_holds_no_secret_values(k8s_docs: list[dict[str, Any]]) -> None:
    assert [d for d in k8s_docs if d["kind"] == "Secret"] == []
    config = _of_kind(k8s_docs, "ConfigMap")["modelmon-config"]["data"]
    assert not [k for k in config if re.search(r"PASSWORD|TOKEN|SECRET|KEY$", k)]
    assert _check_env(config) == []


def test_k8s_has_one_deployment_per_service(k8s_docs: list[dict[str, Any]]) -> None:
    assert set(_of_kind(k8s_docs, "Deployment")) == {f"modelmon-{s}" for s in SERVICES}


@pytest.mark.parametrize("name", WRITTEN)
def test_k8s_deployment_runs_the_service_with_probes(
    k8s_docs: list[dict[str, Any]], name: str
) -> None:
    deployment = _of_kind(k8s_docs, "Deployment")[f"modelmon-{name}"]
    template = deployment["spec"]["template"]
    labels = deployment["spec"]["selector"]["matchLabels"]
    assert labels.items() <= template["metadata"]["labels"].items()
    [container] = template["spec"]["containers"]
    assert container["image"] == IMAGE
    assert [*container["command"], *container["args"][:2]] == ["modelmon", "run", name]
    assert _required_flags_given(name, container["args"]) == []
    ports = {str(p["containerPort"]) for p in container["ports"]}
    assert set(container["resources"]["requests"]) == {"cpu", "memory"}
    refs = {(next(iter(r)), next(iter(r.values()))["name"]) for r in container["envFrom"]}
    assert refs == {("configMapRef", "modelmon-config"), ("secretRef", "modelmon-secrets")}
    assert not any(next(iter(r.values())).get("optional") for r in container["envFrom"]), (
        "a missing Secret must stop the pod, not run it without credentials"
    )
    env = {e["name"]: e.get("value") for e in container.get("env", [])}  # valueFrom: None
    assert _check_env(env, name) == []
    assert ports <= set(env.values()), "container ports and the service's settings disagree"


@pytest.mark.parametrize("name", SERVICES)
def test_k8s_probes_and_prometheus_reach_the_admin_port(
    k8s_docs: list[dict[str, Any]], name: str
) -> None:
    template = _of_kind(k8s_docs, "Deployment")[f"modelmon-{name}"]["spec"]["template"]
    [container] = template["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container.get("env", [])}  # valueFrom: None
    host_env, port_env, port_name = ADMIN[name]
    assert env[host_env] == "0.0.0.0", f"{host_env}: kubelet and Prometheus cannot reach it"
    named = {p["name"]: str(p["containerPort"]) for p in container["ports"]}
    assert named[port_name] == env[port_env]
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": port_name}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": port_name}
    assert "exec" not in container["readinessProbe"] | container["livenessProbe"]
    assert template["metadata"]["annotations"] == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": env[port_env],
        "prometheus.io/path": "/metrics",
    }


@pytest.mark.parametrize("name", WRITTEN)
def test_admin_servers_listen_on_loopback_unless_told_otherwise(name: str) -> None:
    host_env, port_env, _ = ADMIN[name]
    assert _env_problem(host_env, name) is None
    assert _env_problem(port_env, name) is None
    assert _default_of(host_env, name) == "127.0.0.1"
    assert "--admin-host" in {o for p in _command(name).params for o in p.opts}


def test_k8s_services_select_a_deployment(k8s_docs: list[dict[str, Any]]) -> None:
    deployments = _of_kind(k8s_docs, "Deployment").values()
    for service in _of_kind(k8s_docs, "Service").values():
        selector = service["spec"]["selector"].items()
        assert any(selector <= d["spec"]["template"]["metadata"]["labels"].items()
                   for d in deployments), service["metadata"]["name"]  # fmt: skip


def test_k8s_base_replicas_stay_within_the_capture_partitions(
    k8s_docs: list[dict[str, Any]],
) -> None:
    """Autoscaling lives in k8s/components (tests/unit/test_k8s_overlays.py checks its bounds)."""
    config = _of_kind(k8s_docs, "ConfigMap")["modelmon-config"]["data"]
    partitions = int(config["MODELMON_TOPICS__CAPTURE_PARTITIONS"])
    assert partitions == TopicSettings().capture_partitions
    for deployment in _of_kind(k8s_docs, "Deployment").values():
        assert 1 <= deployment["spec"]["replicas"] <= partitions


# --- both -----------------------------------------------------------------------------------


def test_every_service_package_is_deployed() -> None:
    packages = {
        p.name.replace("_", "-")
        for p in (ROOT / "services").iterdir()
        if (p / "__init__.py").is_file()
    }
    assert sorted(packages - set(SERVICES)) == []


def test_services_written_so_far_are_runnable_by_name() -> None:
    from modelmon.cli.run import run

    written = set(run.list_commands(None))  # type: ignore[arg-type]
    assert written <= set(SERVICES)
