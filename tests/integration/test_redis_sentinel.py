"""``MODELMON_REDIS__URL=redis+sentinel://...``: modelmon finds the master through Sentinel,
and a failover is a few ``RedisUnavailableError`` (retried by the services), then the new
master — never a crash. A real master, replica and sentinel (Debian's redis-server)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from conftest import wait_until
from modelmon.adapters.redis import RedisUnavailableError, make_redis
from modelmon.keys import Keys
from modelmon.registry import Registry
from modelmon.settings import RedisSettings

from .private_redis import free_port, redis_server_binary
from .test_aggregator_support import register


def _server(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([redis_server_binary(), *args], stdout=out, stderr=out)


@pytest.fixture
def sentinel_setup(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes], int]]:
    master, replica, sentinel = free_port(), free_port(), free_port()
    common = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    procs = [
        _server(["--port", str(master), "--dir", str(tmp_path), *common], tmp_path / "m.log"),
        _server(["--port", str(replica), "--dir", str(tmp_path), "--replicaof", "127.0.0.1",
                 str(master), *common], tmp_path / "r.log"),
    ]  # fmt: skip
    conf = tmp_path / "sentinel.conf"
    conf.write_text(
        f"port {sentinel}\nbind 127.0.0.1\ndir {tmp_path}\n"
        f"sentinel monitor mm 127.0.0.1 {master} 1\n"
        "sentinel down-after-milliseconds mm 1000\nsentinel failover-timeout mm 5000\n"
    )
    procs.append(_server([str(conf), "--sentinel"], tmp_path / "s.log"))
    try:
        probe = redis.Redis(port=replica, socket_timeout=2)
        wait_until(lambda: _synced(probe), 30, "the replica in sync")
        # The sentinel learns of replicas from the master's INFO (every 10 s): a master killed
        # before that leaves it nothing to promote, and no failover ever happens.
        watcher = redis.Redis(port=sentinel, socket_timeout=2)
        wait_until(lambda: _known_replicas(watcher) > 0, 60, "the sentinel knows the replica")
        yield f"redis+sentinel://127.0.0.1:{sentinel}/mm", procs[0], replica
    finally:
        for p in procs:
            p.kill()
            p.wait(10)


def _known_replicas(sentinel: redis.Redis) -> int:
    try:
        return len(sentinel.sentinel_slaves("mm"))
    except redis.RedisError:
        return 0


def _synced(client: redis.Redis) -> bool:
    try:
        return client.info("replication").get("master_link_status") == "up"
    except redis.RedisError:
        return False


def test_the_master_is_found_and_a_failover_is_retried_not_fatal(
    sentinel_setup: tuple[str, subprocess.Popen[bytes], int],
) -> None:
    url, master, replica_port = sentinel_setup
    client = make_redis(RedisSettings(url=url))
    register(client, "s", "m1", size_seconds=10)
    assert Registry(client, Keys("s")).model_ids() == ["m1"]
    wait_until(lambda: redis.Redis(port=replica_port).exists(Keys("s").models()), 10, "replica")
    master.kill()
    master.wait(10)
    errors = 0
    deadline = time.monotonic() + 60
    while True:  # what a service does: retry a DependencyUnavailableError
        try:
            register(client, "s", "m2", size_seconds=10)
            break
        except RedisUnavailableError:
            errors += 1
            assert time.monotonic() < deadline, "no new master within 60 s"
            time.sleep(0.2)
    assert errors >= 1  # the old master was gone: errors, translated, then the new one
    assert client.connection_pool.get_master_address()[1] == replica_port
    assert Registry(client, Keys("s")).model_ids() == ["m1", "m2"]


def test_a_malformed_sentinel_url_says_what_is_expected() -> None:
    with pytest.raises(ValueError, match="master name"):
        make_redis(RedisSettings(url="redis+sentinel://127.0.0.1:26379"))
    with pytest.raises(ValueError, match="host:port"):
        make_redis(RedisSettings(url="redis+cluster://nohost"))
