"""The one Redis seam (``adapters.redis.make_redis``) against a real Redis: commands, scripts
and pipelines work as redis-py's, and every failure is a ``DependencyUnavailableError`` —
so no store translates errors itself."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import pytest

from modelmon.adapters.redis import make_redis
from modelmon.errors import DependencyUnavailableError
from modelmon.settings import RedisSettings, Settings


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the block ends: nothing listens


def test_commands_scripts_and_pipelines_work_through_the_seam(
    redis_client: Any, redis_prefix: str
) -> None:
    key = f"{redis_prefix}:seam"
    script = redis_client.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
    assert script(keys=[key], args=[2]) == 2  # first call: NOSCRIPT handled inside redis-py
    pipe = redis_client.pipeline(transaction=True)
    pipe.incr(key)
    pipe.get(key)
    assert pipe.execute() == [3, b"3"]
    redis_client.delete(key)


@pytest.mark.parametrize(
    "call",
    [
        lambda r: r.get("k"),
        lambda r: r.pipeline(transaction=False).get("k").execute(),
        lambda r: r.register_script("return 1")(keys=[], args=[]),
    ],
    ids=["command", "pipeline", "script"],
)
def test_redis_down_is_a_dependency_error_everywhere(call: Callable[[Any], Any]) -> None:
    client = make_redis(RedisSettings(url=f"redis://127.0.0.1:{_closed_port()}/0"))
    with pytest.raises(DependencyUnavailableError, match="Redis did not answer"):
        call(client)


def test_the_translated_error_is_still_a_redis_error_for_redis_py_callers() -> None:
    import redis

    client = make_redis(RedisSettings(url=f"redis://127.0.0.1:{_closed_port()}/0"))
    with pytest.raises(redis.RedisError):
        client.ping()


def test_a_refused_command_is_translated_too(settings: Settings, redis_prefix: str) -> None:
    client = make_redis(settings.redis)
    key = f"{redis_prefix}:seam-hash"
    client.hset(key, "a", 1)
    try:
        with pytest.raises(DependencyUnavailableError, match="WRONGTYPE"):
            client.get(key)
    finally:
        client.delete(key)
        client.close()
