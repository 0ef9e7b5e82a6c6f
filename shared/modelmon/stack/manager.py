"""``up``, ``down``, ``status`` and ``env`` of the local stack, serialised by a file lock."""

from __future__ import annotations

import fcntl
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

from modelmon.settings import TopicSettings
from modelmon.stack import kafka, moto, redis
from modelmon.stack.config import StackConfig
from modelmon.stack.process import Launch, ManagedProcess


class _Service(Protocol):
    NAME: str

    def launch(self, cfg: StackConfig) -> Launch: ...

    def process(self, cfg: StackConfig) -> ManagedProcess: ...


# Launching does not wait: Redis and moto boot while Kafka's storage is formatted and its JVM
# starts; then each is waited for in turn. Kafka is stopped first (it takes longest).
_LAUNCH: tuple[_Service, ...] = (redis, moto, kafka)
_REPORT = ("redis", "moto", "kafka")
_STOP: tuple[_Service, ...] = (kafka, moto, redis)


@dataclass(frozen=True)
class ServiceStatus:
    """One service of the stack as ``status`` sees it."""

    name: str
    endpoint: str
    state: str  # "running", "running (not started by this stack)", "stopped"
    pid: int | None = None
    version: str | None = None
    log: str | None = None


@dataclass(frozen=True)
class StackStatus:
    """The whole stack: its services and Kafka's topics (name -> partitions)."""

    state_dir: str
    services: list[ServiceStatus]
    topics: dict[str, int] = field(default_factory=dict)
    cluster_id: str | None = None

    @property
    def all_running(self) -> bool:
        return all(s.state.startswith("running") for s in self.services)


@contextmanager
def _locked(cfg: StackConfig) -> Iterator[None]:
    """One ``up``/``down`` at a time per state dir (parallel test runs share one stack)."""
    state = cfg.state()
    state.mkdir(parents=True, exist_ok=True)
    with (state / "stack.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def up(
    cfg: StackConfig, topics: TopicSettings, report: Callable[[str], None] = print,
    redis_cluster: bool = False,
) -> dict[str, int]:  # fmt: skip
    """Start whatever is not running yet (idempotent) and create the topics; ``redis_cluster``:
    also a three-master Redis Cluster (``cfg.redis_cluster_ports``)."""
    from modelmon.adapters.kafka import ensure_topics
    from modelmon.settings import KafkaSettings

    with _locked(cfg):
        kafka.check_prerequisites(cfg)
        _start_all(cfg, report)
        if redis_cluster:
            from modelmon.stack import redis_cluster as cluster

            cluster.stack_up(cfg, report)
        from confluent_kafka.admin import AdminClient

        kafka_settings = KafkaSettings(bootstrap_servers=cfg.kafka_bootstrap)
        admin = AdminClient(kafka_settings.librdkafka_config())
        created = ensure_topics(admin, topics)
        for name, parts in created.items():
            report(f"topic  {name:28} {parts} partitions")
        return created


def _start_all(cfg: StackConfig, report: Callable[[str], None]) -> None:
    """Launch every service, then wait for each; on failure stop what this call launched."""
    launches: dict[str, Launch] = {}
    try:
        for service in _LAUNCH:
            launches[service.NAME] = service.launch(cfg)
        for name in _REPORT:
            report(f"{name:6} {launches[name].wait(cfg.start_timeout)}")
    except BaseException:
        for launch in launches.values():
            if launch.fresh and not launch.answered:
                launch.proc.stop(grace=5.0)
        raise


SERVICE_NAMES = (*(s.NAME for s in _LAUNCH), "redis-cluster")


def down(
    cfg: StackConfig, report: Callable[[str], None] = print, only: Collection[str] = ()
) -> None:
    """Stop the processes this stack started (by pid), or only the named ones; nothing else."""
    with _locked(cfg):
        from modelmon.stack import redis_cluster as cluster

        # the cluster is optional: named, or running, it is stopped (by pid, as the rest)
        if "redis-cluster" in only or (not only and cluster.of_stack(cfg).running()):
            cluster.stack_down(cfg, report)
        for service in _STOP:
            if only and service.NAME not in only:
                continue
            stopped = service.process(cfg).stop(grace=30.0)
            report(f"{service.NAME:6} {'stopped' if stopped else 'not running (nothing to stop)'}")


def status(cfg: StackConfig) -> StackStatus:
    """What runs, which versions, and Kafka's topics."""
    services = [
        _service_status(kafka.process(cfg), kafka.ready(cfg), cfg.kafka_bootstrap,
                        lambda: kafka.version(cfg)),
        _service_status(redis.process(cfg), redis.ready(cfg), cfg.redis_url,
                        lambda: redis.version(cfg)),
        _service_status(moto.process(cfg), moto.ready(cfg), cfg.aws_endpoint, moto.version),
    ]  # fmt: skip
    from modelmon.stack import redis_cluster as cluster

    nodes = cluster.of_stack(cfg)
    if running := nodes.running():
        state = "running" if len(running) == len(nodes.ports) and nodes.healthy() else "degraded"
        services.append(ServiceStatus("redis-cluster", cfg.redis_cluster_url, state))
    topics: dict[str, int] = {}
    cluster_id = None
    if services[0].state.startswith("running"):
        topics, cluster_id = _kafka_topics(cfg)
    return StackStatus(str(cfg.state()), services, topics, cluster_id)


def env_vars(cfg: StackConfig, redis_cluster: bool = False) -> dict[str, str]:
    """The variables that point modelmon, boto3 and the tests at this stack (``redis_cluster``:
    at its Redis Cluster rather than its single Redis)."""
    return {
        "MODELMON_KAFKA__BOOTSTRAP_SERVERS": cfg.kafka_bootstrap,
        "MODELMON_REDIS__URL": cfg.redis_cluster_url if redis_cluster else cfg.redis_url,
        "AWS_ENDPOINT_URL": cfg.aws_endpoint,
        "AWS_DEFAULT_REGION": cfg.aws_region,
        # Dummy credentials for the emulator (moto accepts any); not secrets.
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }


def _service_status(
    proc: ManagedProcess, answers: bool, endpoint: str, version: Callable[[], str | None]
) -> ServiceStatus:
    pid = proc.pid()
    if pid is not None:
        state = "running" if answers else "started, not answering"
    elif answers:
        state = "running (not started by this stack)"
    else:
        state = "stopped"
    return ServiceStatus(
        name=proc.name,
        endpoint=endpoint,
        state=state,
        pid=pid,
        version=version() if answers else None,
        log=str(proc.logfile),
    )


def _kafka_topics(cfg: StackConfig) -> tuple[dict[str, int], str | None]:
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": cfg.kafka_bootstrap})
    try:
        meta = admin.list_topics(timeout=10)
        cluster = meta.cluster_id
    except KafkaException:
        return {}, None
    topics = {
        name: len(t.partitions) for name, t in sorted(meta.topics.items())
        if not name.startswith("__")
    }  # fmt: skip
    return topics, cluster
