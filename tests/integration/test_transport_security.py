"""Capture -> alert with Redis over TLS and an ACL user (the default user disabled).

A private redis-server listens on TLS only (no plain port), with certificates generated at
start-up (``tls.py``). The registry, the aggregator and the detector reach it with
``rediss://`` + CA + ACL user/password from settings; events are captured with the SDK and
the drifted window raises alerts. No password appears in the services' logs.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from modelmon.adapters.redis import make_redis
from modelmon.capture import CaptureClient
from modelmon.settings import RedisSettings, Settings

from .private_redis import free_port, redis_server_binary
from .test_aggregator_support import ServiceProcess, register, service_env, wait_for
from .test_archiver import topic_settings
from .test_detector import T0, _evaluated, _push_baseline, _stream
from .tls import make_certs

PASSWORD = "acl-" + "9f" * 16


@pytest.fixture
def tls_redis(tmp_path: Path) -> Iterator[RedisSettings]:
    certs = make_certs(tmp_path / "tls")
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


def test_capture_to_alert_over_redis_tls_with_an_acl_user(
    settings: Settings, tls_redis: RedisSettings, new_topic: Any, consumer_group: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    client = make_redis(tls_redis)
    no_tls = tls_redis.model_copy(update={"url": tls_redis.url.replace("rediss", "redis")})
    with pytest.raises(redis.RedisError):
        make_redis(no_tls).ping()  # TLS only: a plain connection gets nowhere
    anonymous = tls_redis.model_copy(update={"username": None, "password": None})
    with pytest.raises(redis.RedisError):
        make_redis(anonymous).ping()  # the default user is off
    capture, alerts = new_topic(partitions=1), new_topic(partitions=1)
    register(client, "tls", "tls-model", size_seconds=10, allowed_lateness_seconds=1,
             idle_timeout_seconds=2)  # fmt: skip
    _push_baseline(client, "tls", "tls-model", tmp_path)
    with CaptureClient("tls-model", settings=topic_settings(settings, capture)) as sdk:
        for e in _stream("tls-model", 1):
            sdk.capture(e.inputs, 1, event_time=_utc(e.t_ms))
        assert sdk.flush(60) == 0
    env = service_env("tls", capture, consumer_group) | {
        "MODELMON_REDIS__URL": tls_redis.url,
        "MODELMON_REDIS__USERNAME": "modelmon",
        "MODELMON_REDIS__PASSWORD": PASSWORD,
        "MODELMON_REDIS__SSL_CA_CERTS": str(tls_redis.ssl_ca_certs),
        "MODELMON_DETECTOR_TOPIC": capture,
        "MODELMON_DETECTOR_ALERTS_TOPIC": alerts,
        "MODELMON_LOG_LEVEL": "DEBUG",
    }
    services = [
        ServiceProcess(name, env, tmp_path / f"{name}.log").start()
        for name in ("aggregator", "detector")
    ]
    try:
        wait_for(
            lambda: any(r["type"] == "alert" for r in _evaluated(settings, alerts)),
            180, "an alert over TLS Redis",
        )  # fmt: skip
    finally:
        for svc in services:
            assert svc.terminate() == 0, svc.logs()
    alarms = [r for r in _evaluated(settings, alerts) if r["type"] == "alert"]
    assert {a["feature"] for a in alarms} >= {"x", "color"}
    assert all(a["window_start"] != _utc(T0).isoformat() for a in alarms)
    for svc in services:
        assert PASSWORD not in svc.log_path.read_text()


def _utc(ms: int) -> Any:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, UTC)
