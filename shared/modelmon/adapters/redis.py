"""Redis client factory. Key names live in ``modelmon.keys``, never inline."""

from __future__ import annotations

import redis

from modelmon.settings import RedisSettings


def make_redis(settings: RedisSettings) -> redis.Redis:
    """A client with bytes responses (sketch blobs are binary) and sane timeouts."""
    return redis.Redis.from_url(
        settings.url,
        socket_timeout=10,
        socket_connect_timeout=5,
        health_check_interval=30,
        retry_on_timeout=True,
    )
