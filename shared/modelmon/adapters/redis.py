"""Redis client factory, and the one seam that translates Redis errors.

Key names live in ``modelmon.keys``, never inline. The client ``make_redis`` returns raises
``RedisUnavailableError`` wherever redis-py would raise a ``RedisError`` (single commands,
scripts and pipelines alike): a ``DependencyUnavailableError`` to modelmon (a
``TransientError``: retry, do not commit) that is still a ``RedisError`` to redis-py callers.
The stores built on it never translate errors themselves. ``NoScriptError`` and
``WatchError`` pass through: redis-py (script loading) and optimistic transactions act on them.
"""

from __future__ import annotations

from typing import Any

import redis
from redis.client import Pipeline
from redis.exceptions import NoScriptError, WatchError

from modelmon.errors import DependencyUnavailableError
from modelmon.settings import RedisSettings

_PASS = (NoScriptError, WatchError)


class RedisUnavailableError(DependencyUnavailableError, redis.RedisError):
    """Redis failed: a ``DependencyUnavailableError`` to modelmon (retry, do not commit), and
    still a ``redis.RedisError`` to code that catches redis-py's errors."""


def _translated(exc: redis.RedisError) -> RedisUnavailableError:
    return RedisUnavailableError(f"Redis did not answer: {exc}")


class _Pipeline(Pipeline):
    def execute(self, raise_on_error: bool = True) -> list[Any]:
        try:
            return super().execute(raise_on_error)
        except _PASS:
            raise
        except redis.RedisError as exc:
            raise _translated(exc) from exc


class ModelmonRedis(redis.Redis):
    """``redis.Redis`` whose failures are ``DependencyUnavailableError``."""

    def execute_command(self, *args: Any, **options: Any) -> Any:
        try:
            return super().execute_command(*args, **options)  # type: ignore[no-untyped-call]
        except _PASS:
            raise
        except redis.RedisError as exc:
            raise _translated(exc) from exc

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> Any:
        pipe = super().pipeline(transaction, shard_hint)
        pipe.__class__ = _Pipeline
        return pipe


def make_redis(settings: RedisSettings) -> ModelmonRedis:
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
    client = ModelmonRedis.from_url(
        settings.url,
        socket_timeout=10,
        socket_connect_timeout=5,
        health_check_interval=30,
        retry_on_timeout=True,
        **extra,
    )
    assert isinstance(client, ModelmonRedis)
    return client
