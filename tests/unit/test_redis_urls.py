"""make_redis's URL schemes, and a cluster that does not answer: an error to retry, no crash."""

from __future__ import annotations

import socket
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelmon.adapters.redis import ModelmonRedis, RedisUnavailableError, make_redis
from modelmon.errors import DependencyUnavailableError
from modelmon.settings import RedisSettings


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_cluster_that_does_not_answer_is_an_error_to_retry_not_a_crash() -> None:
    port = _closed_port()
    client = make_redis(RedisSettings(url=f"redis+cluster://127.0.0.1:{port}"))  # no connect
    script = client.register_script("return 1")  # stores build theirs at start: no connect
    started = time.monotonic()
    with pytest.raises(DependencyUnavailableError, match="Redis did not answer"):
        client.get("k")
    with pytest.raises(RedisUnavailableError):
        script(keys=["k"])
    assert time.monotonic() - started < 60
    client.close()  # nothing to close, and no attempt to connect


def test_a_sentinel_url_gives_the_masters_client_without_connecting() -> None:
    client = make_redis(RedisSettings(url="redis+sentinel://127.0.0.1:1,127.0.0.1:2/mymaster/3"))
    assert isinstance(client, ModelmonRedis)
    assert client.connection_pool.connection_kwargs["db"] == 3
    assert client.connection_pool.service_name == "mymaster"


MALFORMED = [
    "redis+sentinel://h:1", "redis+sentinel://h:1/", "redis+sentinel://h:1/m/x",
    "redis+cluster://h", "redis+cluster://:1", "redis+cluster://h:p",
]  # fmt: skip


@given(st.sampled_from(MALFORMED))
def test_malformed_urls_are_refused_with_the_expected_form(url: str) -> None:
    with pytest.raises(ValueError, match="expected"):
        make_redis(RedisSettings(url=url))


def test_a_password_in_a_url_is_not_echoed_in_its_error() -> None:
    with pytest.raises(ValueError) as caught:
        make_redis(RedisSettings(url="redis+sentinel://user:s3cret@h:1"))
    assert "s3cret" not in str(caught.value)
