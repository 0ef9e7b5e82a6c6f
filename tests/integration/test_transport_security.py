"""Capture -> alert over Kafka SASL_SSL (SCRAM-SHA-256) and Redis TLS with an ACL user.

A private Kafka broker (``secure_kafka.py``) serves clients on SASL_SSL only; a private
redis-server listens on TLS only (no plain port) with the default user disabled. Certificates
are generated at start-up (``tls.py``). The SDK, the registry, the aggregator and the detector
reach both with settings alone (``MODELMON_KAFKA__*``, ``MODELMON_REDIS__*``); the drifted
window raises alerts. No password appears in the services' logs at DEBUG.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from pydantic import SecretStr

from modelmon.adapters.redis import make_redis
from modelmon.capture import CaptureClient
from modelmon.settings import RedisSettings, Settings

from .private_redis import free_port, redis_server_binary
from .secure_kafka import PASSWORD as KAFKA_PASSWORD
from .secure_kafka import USER, SecureKafka
from .test_aggregator_support import ServiceProcess, register, service_env, wait_for
from .test_archiver import topic_settings
from .test_detector import T0, _evaluated, _push_baseline, _stream
from .tls import Certs, make_certs

_QUIET = logging.getLogger("test.transport.quiet")
_QUIET.propagate = False

PASSWORD = "acl-" + "9f" * 16


@pytest.fixture
def certs(tmp_path: Path) -> Certs:
    return make_certs(tmp_path / "tls")


@pytest.fixture
def secure_kafka(tmp_path: Path, certs: Certs) -> Iterator[SecureKafka]:
    broker = SecureKafka(tmp_path / "kafka", certs)
    try:
        yield broker.start()
    finally:
        broker.stop()


@pytest.fixture
def tls_redis(tmp_path: Path, certs: Certs) -> Iterator[RedisSettings]:
    port = free_port()
    conf = tmp_path / "redis.conf"
    conf.write_text(
        f"port 0\ntls-port {port}\nbind 127.0.0.1\n"
        f"tls-cert-file {certs.cert}\ntls-key-file {certs.key}\ntls-ca-cert-file {certs.ca}\n"
        "tls-auth-clients no\nuser default off\n"
        f"user modelmon on >{PASSWORD} ~* &* +@all\n"
        f'save ""\nappendonly no\ndir {tmp_path}\n'
    )
    log = (tmp_path / "redis.log").open("wb")
    proc = subprocess.Popen([redis_server_binary(), str(conf)], stdout=log, stderr=log)
    settings = RedisSettings(
        url=f"rediss://127.0.0.1:{port}/0", username="modelmon", password=PASSWORD,
        ssl_ca_certs=str(certs.ca), key_prefix="tls",
    )  # fmt: skip
    try:
        wait_for(lambda: _pings(settings), 30, "redis over TLS")
        yield settings
    finally:
        proc.terminate()
        proc.wait(30)


def _pings(settings: RedisSettings) -> bool:
    try:
        return bool(make_redis(settings).ping())
    except redis.RedisError:
        return False


def test_capture_to_alert_over_kafka_sasl_ssl_and_redis_tls_with_acl_users(
    tls_redis: RedisSettings, secure_kafka: SecureKafka, tmp_path: Path
) -> None:
    kafka = secure_kafka.settings()
    settings = Settings(kafka=kafka, redis=tls_redis)
    plain = AdminClient({"bootstrap.servers": kafka.bootstrap_servers, "logger": _QUIET})
    with pytest.raises(KafkaException):
        plain.list_topics(timeout=5)  # no PLAINTEXT on the client port
    wrong = kafka.model_copy(update={"sasl_password": SecretStr("wrong")})
    with pytest.raises(KafkaException):
        AdminClient(wrong.librdkafka_config() | {"logger": _QUIET}).list_topics(timeout=5)
    client = make_redis(tls_redis)
    no_tls = tls_redis.model_copy(update={"url": tls_redis.url.replace("rediss", "redis")})
    with pytest.raises(redis.RedisError):
        make_redis(no_tls).ping()  # TLS only: a plain connection gets nowhere
    anonymous = tls_redis.model_copy(update={"username": None, "password": None})
    with pytest.raises(redis.RedisError):
        make_redis(anonymous).ping()  # the default user is off
    capture, alerts, dlq = "sec.capture", "sec.alerts", "sec.deadletter"
    secure_kafka.create_topics(capture, alerts, dlq)
    register(client, "tls", "tls-model", size_seconds=10, allowed_lateness_seconds=1,
             idle_timeout_seconds=2)  # fmt: skip
    _push_baseline(client, "tls", "tls-model", tmp_path)
    with CaptureClient("tls-model", settings=topic_settings(settings, capture)) as sdk:
        for e in _stream("tls-model", 1):
            sdk.capture(e.inputs, 1, event_time=_utc(e.t_ms))
        assert sdk.flush(60) == 0
    env = service_env("tls", capture, "sec-group", dlq) | {
        "MODELMON_KAFKA__BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "MODELMON_KAFKA__SECURITY_PROTOCOL": "SASL_SSL",
        "MODELMON_KAFKA__SASL_MECHANISM": "SCRAM-SHA-256",
        "MODELMON_KAFKA__SASL_USERNAME": USER,
        "MODELMON_KAFKA__SASL_PASSWORD": KAFKA_PASSWORD,
        "MODELMON_KAFKA__SSL_CA_LOCATION": str(kafka.ssl_ca_location),
        "MODELMON_REDIS__URL": tls_redis.url,
        "MODELMON_REDIS__USERNAME": "modelmon",
        "MODELMON_REDIS__PASSWORD": PASSWORD,
        "MODELMON_REDIS__SSL_CA_CERTS": str(tls_redis.ssl_ca_certs),
        "MODELMON_DETECTOR__TOPIC": capture,
        "MODELMON_DETECTOR__ALERTS_TOPIC": alerts,
        "MODELMON_LOG_LEVEL": "DEBUG",
    }
    services = [
        ServiceProcess(name, env, tmp_path / f"{name}.log").start()
        for name in ("aggregator", "detector")
    ]
    try:
        wait_for(
            lambda: any(r["type"] == "alert" for r in _evaluated(settings, alerts)),
            180, "an alert over SASL_SSL Kafka and TLS Redis",
        )  # fmt: skip
    finally:
        for svc in services:
            assert svc.terminate() == 0, svc.logs()
    alarms = [r for r in _evaluated(settings, alerts) if r["type"] == "alert"]
    assert {a["feature"] for a in alarms} >= {"x", "color"}
    assert all(a["window_start"] != _utc(T0).isoformat() for a in alarms)
    for svc in services:
        text = svc.log_path.read_text()
        assert PASSWORD not in text and KAFKA_PASSWORD not in text
        assert "DEBUG" in text


def _utc(ms: int) -> Any:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, UTC)
