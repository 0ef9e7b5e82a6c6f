"""Redis client factory, and the one seam that translates Redis errors.

Key names live in ``modelmon.keys``, never inline. The client ``make_redis`` returns raises
``RedisUnavailableError`` wherever redis-py would raise a ``RedisError`` (single commands,
scripts and pipelines alike): a ``DependencyUnavailableError`` to modelmon (a
``TransientError``: retry, do not commit) that is still a ``RedisError`` to redis-py callers.
The stores built on it never translate errors themselves. ``NoScriptError`` and
``WatchError`` pass through: redis-py (script loading) and optimistic transactions act on them.

``MODELMON_REDIS__URL`` names one server (``redis://``, ``rediss://``), a Redis Cluster
(``redis+cluster://host:port[,host:port...]``, ``rediss+cluster://`` for TLS: any reachable
node, the client discovers the rest and follows MOVED/ASK redirects itself) or a master behind
Sentinel (``redis+sentinel://host:port[,host:port...]/<master name>[/<db>]``: the client asks the
sentinels for the master, and after a failover its next connection goes to the new one).
Connection errors while a cluster reshards or a master fails over are
``RedisUnavailableError`` like any other: the services retry, they do not exit.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast
from urllib.parse import unquote, urlsplit

import redis
from redis._parsers.encoders import Encoder
from redis.backoff import ExponentialBackoff
from redis.client import Pipeline
from redis.cluster import ClusterNode, ClusterPipeline, RedisCluster
from redis.exceptions import NoScriptError, RedisClusterException, SlotNotCoveredError, WatchError
from redis.retry import Retry
from redis.sentinel import Sentinel

from modelmon.errors import DependencyUnavailableError
from modelmon.settings import RedisSettings

_PASS = (NoScriptError, WatchError)


class RedisUnavailableError(DependencyUnavailableError, redis.RedisError):
    """Redis failed: a ``DependencyUnavailableError`` to modelmon (retry, do not commit), and
    still a ``redis.RedisError`` to code that catches redis-py's errors."""


#: Cluster client errors (not ``RedisError`` in redis-py) that mean "no node answers" or "the
#: slots are moving", not a programming error such as a cross-slot command.
_TRANSIENT_CLUSTER = ("cannot be connected", "not covered", "could not agree")


def _translated(exc: Exception) -> RedisUnavailableError:
    return RedisUnavailableError(f"Redis did not answer: {exc}")


def _transient(exc: RedisClusterException) -> bool:
    return isinstance(exc, SlotNotCoveredError) or any(t in str(exc) for t in _TRANSIENT_CLUSTER)


@contextmanager
def _translating() -> Iterator[None]:
    """The one translation: a ``RedisError`` (and a transient cluster error) becomes
    ``RedisUnavailableError``; ``NoScriptError``/``WatchError`` and programming errors such as
    a cross-slot command pass through. A single server never raises cluster errors."""
    try:
        yield
    except _PASS:
        raise
    except redis.RedisError as exc:
        raise _translated(exc) from exc
    except RedisClusterException as exc:
        if _transient(exc):
            raise _translated(exc) from exc
        raise


class _Pipeline(Pipeline):
    def execute(self, raise_on_error: bool = True) -> list[Any]:
        with _translating():
            return super().execute(raise_on_error)


class ModelmonRedis(redis.Redis):
    """``redis.Redis`` whose failures are ``DependencyUnavailableError``."""

    def execute_command(self, *args: Any, **options: Any) -> Any:
        with _translating():
            return super().execute_command(*args, **options)  # type: ignore[no-untyped-call]

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> Any:
        pipe = super().pipeline(transaction, shard_hint)
        pipe.__class__ = _Pipeline
        return pipe


class _ClusterPipeline(ClusterPipeline):
    def execute(self, raise_on_error: bool = True) -> list[Any]:
        with _translating():
            return super().execute(raise_on_error)


class ModelmonRedisCluster(RedisCluster):
    """``redis.cluster.RedisCluster`` whose failures are ``DependencyUnavailableError``."""

    def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        with _translating():
            return super().execute_command(*args, **kwargs)  # type: ignore[no-untyped-call]

    def pipeline(self, transaction: Any = None, shard_hint: Any = None) -> Any:
        """Not a transaction unless asked (redis-py splits multi-key commands through it), so
        modelmon asks: ``pipeline(transaction=True)`` wherever it means MULTI/EXEC or WATCH
        (its keys share a slot, ``modelmon.keys``)."""
        pipe = super().pipeline(transaction, shard_hint)  # type: ignore[no-untyped-call]
        pipe.__class__ = _ClusterPipeline
        return pipe


class _LazyCluster:
    """Connects to the cluster on first use, and again on every use until it has: a cluster
    that is down when a service starts is a ``RedisUnavailableError`` to retry, not a crash
    (redis-py's ``RedisCluster`` reads the slot map in its constructor)."""

    def __init__(self, make: Any) -> None:
        self._make = make
        self._client: ModelmonRedisCluster | None = None
        self._lock = threading.Lock()

    def _get(self) -> ModelmonRedisCluster:
        with self._lock:
            if self._client is None:
                try:
                    self._client = self._make()
                except (redis.RedisError, RedisClusterException) as exc:
                    raise _translated(exc) from exc
            assert self._client is not None
            return self._client

    def register_script(self, script: str) -> Any:
        from redis.commands.core import Script

        return Script(cast(Any, self), script)

    def get_encoder(self) -> Encoder:
        """The script's encoder without connecting (modelmon's clients: bytes, UTF-8)."""
        return Encoder("utf-8", "strict", False)  # type: ignore[no-untyped-call]

    def close(self) -> None:
        """Close the connections if there are any (never connects to close)."""
        if self._client is not None:
            self._client.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._get(), name)


def _common(settings: RedisSettings) -> dict[str, Any]:
    extra: dict[str, Any] = {
        "socket_timeout": 10,
        "socket_connect_timeout": 5,
        "retry_on_timeout": True,
    }
    if settings.username:
        extra["username"] = settings.username
    if settings.password is not None:
        extra["password"] = settings.password.get_secret_value()
    return extra


def _tls(settings: RedisSettings) -> dict[str, Any]:
    tls = {
        "ssl_ca_certs": settings.ssl_ca_certs,
        "ssl_certfile": settings.ssl_certfile,
        "ssl_keyfile": settings.ssl_keyfile,
    }
    return {k: v for k, v in tls.items() if v}


def _hosts(netloc: str, url: str) -> tuple[list[tuple[str, int]], dict[str, Any]]:
    """``[user:password@]host:port,host:port`` -> the hosts and the URL's credentials."""
    creds: dict[str, Any] = {}
    if "@" in netloc:
        auth, netloc = netloc.rsplit("@", 1)
        user, _, password = auth.partition(":")
        creds = {"username": unquote(user) or None, "password": unquote(password) or None}
    hosts: list[tuple[str, int]] = []
    for item in netloc.split(","):
        host, _, port = item.strip().rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"Redis URL {_redacted(url)!r}: expected host:port, got {item!r}")
        hosts.append((host.strip("[]"), int(port)))
    return hosts, {k: v for k, v in creds.items() if v is not None}


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    return url.replace(parts.password, "***") if parts.password else url


def make_cluster(settings: RedisSettings) -> redis.Redis:
    """A Redis Cluster client (``redis+cluster://`` / ``rediss+cluster://``). Typed as
    ``redis.Redis``: it offers the commands, scripts and pipelines modelmon uses with the
    same signatures, and every key one script or transaction touches shares a slot
    (``modelmon.keys``)."""
    parts = urlsplit(settings.url)
    nodes, creds = _hosts(parts.netloc, settings.url)
    options = {**creds, **_common(settings)}
    options.pop("retry_on_timeout")  # the cluster's Retry covers timeouts
    if parts.scheme == "rediss+cluster":
        options.update(ssl=True, **_tls(settings))

    def make() -> ModelmonRedisCluster:
        return ModelmonRedisCluster(
            startup_nodes=[ClusterNode(h, p) for h, p in nodes],  # type: ignore[no-untyped-call]
            retry=Retry(ExponentialBackoff(cap=2.0, base=0.1), 5),  # MOVED/ASK/failover
            **options,
        )

    return cast(redis.Redis, _LazyCluster(make))


def make_sentinel(settings: RedisSettings) -> ModelmonRedis:
    """The master named in a ``redis+sentinel://host:port[,...]/<name>[/<db>]`` URL."""
    parts = urlsplit(settings.url)
    sentinels, creds = _hosts(parts.netloc, settings.url)
    path = [p for p in parts.path.split("/") if p]
    if not path or len(path) > 2 or (len(path) == 2 and not path[1].isdigit()):
        raise ValueError(
            f"Redis URL {_redacted(settings.url)!r}: expected "
            "redis+sentinel://host:port[,host:port]/<master name>[/<db>]"
        )
    options = {**creds, **_common(settings)}
    if parts.scheme == "rediss+sentinel":
        options.update(ssl=True, **_tls(settings))
    timeouts = {"socket_timeout": 5, "socket_connect_timeout": 5}
    sentinel = Sentinel(sentinels, sentinel_kwargs=timeouts, **options)  # type: ignore[no-untyped-call]
    db = int(path[1]) if len(path) == 2 else 0
    client = sentinel.master_for(path[0], redis_class=ModelmonRedis, db=db)  # type: ignore[no-untyped-call]
    assert isinstance(client, ModelmonRedis)
    return client


def make_redis(settings: RedisSettings) -> redis.Redis:
    """A client with bytes responses (sketch blobs are binary) and sane timeouts, for one
    server, a cluster or a Sentinel-managed master (by the URL's scheme, above).

    ``rediss://`` URLs verify the server against ``ssl_ca_certs`` (the system's CAs if
    unset); ``username``/``password`` (an ACL user) override the URL's.
    """
    scheme = settings.url.partition("://")[0]
    if scheme in ("redis+cluster", "rediss+cluster"):
        return make_cluster(settings)
    if scheme in ("redis+sentinel", "rediss+sentinel"):
        return make_sentinel(settings)
    extra = _common(settings)
    if settings.url.startswith("rediss://"):
        extra.update(_tls(settings))
    client = ModelmonRedis.from_url(settings.url, health_check_interval=30, **extra)
    assert isinstance(client, ModelmonRedis)
    return client
