"""Redis client factory. Key names live in ``modelmon.keys``, never inline."""

from __future__ import annotations

from typing import Any

import redis

from modelmon.settings import RedisSettings


def make_redis(settings: RedisSettings) -> redis.Redis:
    """A client with bytes responses (sketch blobs are binary) and sane timeouts.

    ``rediss://`` URLs verify the server against ``ssl_ca_certs`` (the system's CAs if
    unset); ``username``/``password`` (an ACL user) override the URL's.
    """
    extra: dict[str, Any] = {}
    if settings.username:
        extra["username"] = settings.username
    if settings.password is not None:
        extra["password"] = settings.password.get_secret_value()
    if settings.url.startswith("rediss://"):
        tls = {
            "ssl_ca_certs": settings.ssl_ca_certs,
            "ssl_certfile": settings.ssl_certfile,
            "ssl_keyfile": settings.ssl_keyfile,
        }
        extra.update({k: v for k, v in tls.items() if v})
    return redis.Redis.from_url(
        settings.url,
        socket_timeout=10,
        socket_connect_timeout=5,
        health_check_interval=30,
        retry_on_timeout=True,
        **extra,
    )
