"""A private Redis Cluster (three masters, ``modelmon.stack.redis_cluster``) for the tests that
prove the fenced scripts and transactions on real slots. Start failures fail the test."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from modelmon.adapters.redis import make_redis
from modelmon.settings import Settings
from modelmon.stack.redis_cluster import ClusterStartError, LocalCluster


def _free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def cluster_ports(count: int = 3) -> tuple[int, ...]:
    """``count`` ports that are free with their cluster bus ports (port + 10000)."""
    base = 20_000 + (os.getpid() * 7) % 20_000  # spread parallel sessions apart
    found: list[int] = []
    port = base
    while len(found) < count and port < 45_000:
        if _free(port) and _free(port + 10_000):
            found.append(port)
        port += 1
    if len(found) < count:
        pytest.fail("no free ports for a local Redis Cluster")
    return tuple(found)


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    cluster = LocalCluster(tmp_path_factory.mktemp("redis-cluster"), cluster_ports())
    try:
        cluster.start()
    except ClusterStartError as exc:
        cluster.stop()
        pytest.fail(f"the local Redis Cluster did not start: {exc}")
    yield cluster
    cluster.stop()


@pytest.fixture
def cluster_settings(
    redis_cluster: LocalCluster, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """Settings (and the environment services inherit) pointing at the cluster."""
    monkeypatch.setenv("MODELMON_REDIS__URL", redis_cluster.url)
    return settings.model_copy(
        update={"redis": settings.redis.model_copy(update={"url": redis_cluster.url})}
    )


@pytest.fixture
def cluster_client(cluster_settings: Settings) -> Iterator[Any]:
    client = make_redis(cluster_settings.redis)
    yield client
    client.close()
