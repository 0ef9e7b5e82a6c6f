"""A private Kafka broker whose client listener is SASL_SSL (SCRAM-SHA-256), for one test.

Certificates come from ``tls.py`` (generated at start-up); the SCRAM user is created when the
KRaft storage is formatted (``--add-scram``). The broker talks to itself over a loopback
PLAINTEXT listener (``INTERNAL``) that clients are never given. It reuses the local stack's
Kafka jars (``modelmon stack`` fetches them) and a small heap.
"""

from __future__ import annotations

import logging
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from modelmon.settings import KafkaSettings
from modelmon.stack import StackConfig, prereqs
from modelmon.stack import kafka as stack_kafka

from .private_redis import free_port
from .test_aggregator_support import wait_for
from .tls import Certs

USER, PASSWORD = "modelmon", "scram-" + "5e" * 16


@dataclass
class SecureKafka:
    home: Path
    certs: Certs
    port: int = field(default_factory=free_port)
    internal: int = field(default_factory=free_port)
    controller: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    def settings(self) -> KafkaSettings:
        return KafkaSettings(
            bootstrap_servers=f"127.0.0.1:{self.port}", security_protocol="SASL_SSL",
            sasl_mechanism="SCRAM-SHA-256", sasl_username=USER, sasl_password=PASSWORD,
            ssl_ca_location=str(self.certs.ca),
        )  # fmt: skip

    def _properties(self) -> str:
        props = {
            "process.roles": "broker,controller", "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller}",
            "listeners": f"SASL_SSL://127.0.0.1:{self.port},INTERNAL://127.0.0.1:"
                         f"{self.internal},CONTROLLER://127.0.0.1:{self.controller}",
            "advertised.listeners": f"SASL_SSL://127.0.0.1:{self.port},"
                                    f"INTERNAL://127.0.0.1:{self.internal}",
            "controller.listener.names": "CONTROLLER", "inter.broker.listener.name": "INTERNAL",
            "listener.security.protocol.map":
                "CONTROLLER:PLAINTEXT,INTERNAL:PLAINTEXT,SASL_SSL:SASL_SSL",
            "sasl.enabled.mechanisms": "SCRAM-SHA-256",
            "listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config":
                "org.apache.kafka.common.security.scram.ScramLoginModule required;",
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(self.certs.ca.parent / "keystore.pem"),
            "ssl.client.auth": "none",
            "log.dirs": str(self.home / "data"), "num.partitions": "1",
            "offsets.topic.replication.factor": "1", "offsets.topic.num.partitions": "3",
            "transaction.state.log.replication.factor": "1", "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "3",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
        }  # fmt: skip
        return "".join(f"{k}={v}\n" for k, v in props.items())

    def _jvm(self, cfg: StackConfig, java: str) -> list[str]:
        return [java, "-Xmx384m", "-Xms128m", "-XX:+UseSerialGC", "-Djava.awt.headless=true",
                f"-Dlog4j2.configurationFile={self.home / 'log4j2.properties'}",
                "-cp", f"{stack_kafka.libs_dir(cfg)}/*"]  # fmt: skip

    def start(self) -> SecureKafka:
        cfg = StackConfig()
        stack_kafka.fetch_jars(cfg)  # a no-op when the stack's jars are there
        java = prereqs.java()
        self.home.mkdir(parents=True, exist_ok=True)
        server = self.home / "server.properties"
        server.write_text(self._properties())
        (self.home / "log4j2.properties").write_text(stack_kafka._LOG4J2)
        scram = f"SCRAM-SHA-256=[name={USER},password={PASSWORD}]"
        done = subprocess.run(
            [*self._jvm(cfg, java), "kafka.tools.StorageTool", "format", "-t",
             stack_kafka._cluster_id(), "-c", str(server), "--add-scram", scram],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        log = (self.home / "kafka.log").open("wb")
        self.proc = subprocess.Popen(
            [*self._jvm(cfg, java), "kafka.Kafka", str(server)], stdout=log, stderr=log
        )
        wait_for(self.ready, 120, "the SASL_SSL broker")
        return self

    def admin(self) -> AdminClient:
        quiet = logging.getLogger("secure_kafka.client")  # connection refused while starting
        quiet.propagate = False
        quiet.addHandler(logging.NullHandler())
        return AdminClient(self.settings().librdkafka_config() | {"logger": quiet})

    def ready(self) -> bool:
        assert self.proc is not None
        assert self.proc.poll() is None, (self.home / "kafka.log").read_text()[-3000:]
        try:
            return bool(self.admin().list_topics(timeout=3).brokers)
        except KafkaException:
            return False

    def create_topics(self, *names: str) -> None:
        admin = self.admin()  # kept alive until every future is settled
        futures = admin.create_topics([NewTopic(n, 1, 1) for n in names])
        for f in futures.values():
            f.result(30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)
