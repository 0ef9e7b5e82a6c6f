"""Apache Kafka 4 (KRaft, one combined broker+controller) from jars fetched by Maven."""

from __future__ import annotations

import base64
import hashlib
import itertools
import logging
import shutil
import subprocess
import uuid
import zipfile
from pathlib import Path
from typing import Any

from modelmon.errors import ConfigurationError
from modelmon.stack import prereqs
from modelmon.stack.config import StackConfig
from modelmon.stack.process import Launch, ManagedProcess, ensure_port_free, port_open, running

NAME = "kafka"
_STAMP = ".pom-sha256"

_LOG4J2 = """\
status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = OUT
logger.kafka.name = kafka
logger.kafka.level = WARN
logger.apache.name = org.apache.kafka
logger.apache.level = WARN
logger.raftserver.name = kafka.server.KafkaRaftServer
logger.raftserver.level = INFO
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
"""


def process(cfg: StackConfig) -> ManagedProcess:
    return ManagedProcess(NAME, cfg.state())


def libs_dir(cfg: StackConfig) -> Path:
    return cfg.state() / NAME / "libs"


def fetch_jars(cfg: StackConfig, libs: Path | None = None) -> bool:
    """Copy the pom's jars into ``libs`` (default: the broker's) with Maven; True if Maven ran.

    Skipped when the stamp in ``libs/`` holds the pom's current hash. Otherwise Maven resolves
    from ~/.m2 and downloads only what is not there yet.
    """
    pom = cfg.pom()
    if pom is None or not pom.is_file():
        raise ConfigurationError(
            "deploy/local/kafka/pom.xml was not found: run `modelmon stack` from a modelmon "
            "checkout, or set MODELMON_STACK_PROJECT_DIR to one."
        )
    digest = hashlib.sha256(pom.read_bytes()).hexdigest()
    libs = libs or libs_dir(cfg)
    stamp = libs / _STAMP
    if stamp.is_file() and stamp.read_text().strip() == digest:
        return False
    mvn = prereqs.maven()
    staging = libs.with_name("libs.partial")
    shutil.rmtree(staging, ignore_errors=True)
    argv = [mvn, "-B", "-q", "-Dstyle.color=never", "-f", str(pom), "dependency:copy-dependencies",
            f"-DoutputDirectory={staging}"]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ConfigurationError(
            f"Maven could not fetch the Kafka jars (exit {done.returncode}). Check that Maven "
            f"Central is reachable (or ~/.m2 holds the jars), then retry.\n"
            f"{(done.stdout + done.stderr)[-3000:]}"
        )
    shutil.rmtree(libs, ignore_errors=True)
    staging.rename(libs)
    stamp.write_text(digest + "\n")
    return True


def _write_configs(cfg: StackConfig) -> Path:
    home = cfg.state() / NAME
    data = home / "data"
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@{cfg.host}:{cfg.kafka_controller_port}",
        "listeners": f"PLAINTEXT://{cfg.host}:{cfg.kafka_port},"
        f"CONTROLLER://{cfg.host}:{cfg.kafka_controller_port}",
        "advertised.listeners": f"PLAINTEXT://{cfg.host}:{cfg.kafka_port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(data),
        "num.partitions": "1",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "10",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "10",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "min.insync.replicas": "1",
        "default.replication.factor": "1",
        "group.initial.rebalance.delay.ms": "0",
        "delete.topic.enable": "true",
        "log.retention.hours": "168",
    }
    server = home / "server.properties"
    server.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
    (home / "log4j2.properties").write_text(_LOG4J2)
    return server


def _jvm(cfg: StackConfig, java: str) -> list[str]:
    home = cfg.state() / NAME
    return [
        java,
        f"-Xmx{cfg.kafka_heap}",
        "-Xms256m",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={home / 'log4j2.properties'}",
        "-cp",
        f"{libs_dir(cfg)}/*",
    ]


def _cluster_id() -> str:
    while True:  # Kafka's own rule: an id must not start with '-' (it would read as a flag)
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cid.startswith("-"):
            return cid


def _format_storage(cfg: StackConfig, java: str, server: Path) -> None:
    """Format KRaft storage once, with a random cluster id."""
    if (cfg.state() / NAME / "data" / "meta.properties").is_file():
        return
    argv = [*_jvm(cfg, java), "kafka.tools.StorageTool", "format",
            "-t", _cluster_id(), "-c", str(server)]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ConfigurationError(
            f"formatting Kafka storage failed (exit {done.returncode}); remove "
            f"{cfg.state() / NAME / 'data'} and retry.\n{(done.stdout + done.stderr)[-3000:]}"
        )


def ready(cfg: StackConfig, timeout: float = 3.0) -> bool:
    """True when the broker answers a metadata request (the admin ``list_topics``)."""
    if not port_open(cfg.host, cfg.kafka_port):
        return False
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    admin = AdminClient(_quiet_client(cfg))
    try:
        return bool(admin.list_topics(timeout=timeout).brokers)
    except KafkaException:
        return False


def _quiet_client(cfg: StackConfig) -> dict[str, Any]:
    quiet = logging.getLogger("modelmon.stack.kafka.client")
    quiet.propagate = False
    quiet.addHandler(logging.NullHandler())
    return {"bootstrap.servers": cfg.kafka_bootstrap, "logger": quiet}


def check_prerequisites(cfg: StackConfig) -> None:
    """Fail before anything starts if the broker would need Java or Maven that is missing."""
    if process(cfg).pid() is not None:
        return
    prereqs.java()
    stamp = libs_dir(cfg) / _STAMP
    if not stamp.is_file():
        prereqs.maven()


def launch(cfg: StackConfig) -> Launch:
    """Launch the broker unless ours already runs (``Launch.wait`` waits for it to answer)."""
    proc = process(cfg)
    found = running(proc, lambda: ready(cfg), "Kafka")
    if found is not None:
        return found
    ensure_port_free(proc, cfg.host, cfg.kafka_port, "--kafka-port")
    ensure_port_free(proc, cfg.host, cfg.kafka_controller_port, "--kafka-controller-port")
    java = prereqs.java()
    fetched = fetch_jars(cfg)
    server = _write_configs(cfg)
    _format_storage(cfg, java, server)
    pid = proc.start([*_jvm(cfg, java), "kafka.Kafka", str(server)])
    note = "started (jars fetched with Maven)" if fetched else "started"
    return Launch(proc, pid, lambda: ready(cfg), "Kafka", note, fresh=True)


def version(cfg: StackConfig) -> str | None:
    """The running broker's version and commit, from the kafka-clients jar on its classpath.

    That jar's ``kafka/kafka-version.properties`` is what the broker itself reports (Kafka's
    AppInfoParser reads it); the classpath is read from the live process, not assumed.
    """
    pid = process(cfg).pid()
    if pid is None:
        return None
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    classpath = _classpath(argv)
    if classpath is None:
        return None
    for entry in classpath.split(":"):
        for jar in sorted(Path(entry.rstrip("*")).glob("kafka-clients-*.jar")):
            with zipfile.ZipFile(jar) as zf:
                props = zf.read("kafka/kafka-version.properties").decode(errors="replace")
            info = dict(line.split("=", 1) for line in props.splitlines() if "=" in line)
            commit = info.get("commitId", "?")
            return f"{info.get('version', '?')} (commit {commit[:12]})"
    return None


def _classpath(argv: list[bytes]) -> str | None:
    for flag, value in itertools.pairwise(argv):
        if flag == b"-cp":
            return value.decode()
    return None
