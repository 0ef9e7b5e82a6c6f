"""Shared fixtures: the real Kafka, Redis and AWS emulator of the local stack.

Start the stack with ``.venv/bin/modelmon stack up`` (``make test`` does it for you). Every
integration test gets its own topic, consumer group, Redis key prefix and S3 bucket, so tests
running at the same time on the one shared stack never collide. A service that does not answer
FAILS the tests that need it (never a skip), with a message saying how to start it.

Environment: when not already set, the stack's variables (``modelmon stack env``) are put in
``os.environ`` before any test runs, so ``Settings()`` and any process a test starts reach the
stack, and boto3 talks to the emulator, never to real AWS.
"""

from __future__ import annotations

import os
import re
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from modelmon.stack import StackConfig, env_vars
from modelmon.streaming.native_decode import active as active_decoder
from modelmon.streaming.native_decode import select as select_decoder

# The suites are packages (tests/unit/__init__.py ...), so equal file names in two suites do not
# clash; their directories also stay importable, for helper modules a test imports by name.
for _suite in ("unit", "integration", "e2e"):
    if str(Path(__file__).parent / _suite) not in sys.path:
        sys.path.append(str(Path(__file__).parent / _suite))

# MODELMON_NATIVE=0 runs the suites on the pure-Python capture decoder (scripts/test.sh runs every
# test that decodes capture events that way too: decode_paths.py); otherwise the native one.
select_decoder(os.environ.get("MODELMON_NATIVE", "1").lower() not in {"0", "false", "no", "off"})


@pytest.fixture
def native_decoder() -> Iterator[None]:
    """The native decoder for this test, whichever path the run selected (a test that compares
    both paths, or needs the shared blocks only the native one builds)."""
    before = active_decoder()
    select_decoder(True)
    yield
    select_decoder(before == "native")


_STACK = StackConfig()
for _key, _value in env_vars(_STACK).items():
    os.environ.setdefault(_key, _value)
# The suites replay captures of fixed dates in 2026: accept them at any age (the past horizon
# defaults to the aggregator's retention, docs/streaming.md); horizon tests set their own.
os.environ.setdefault("MODELMON_LIMITS__PAST_SECONDS", str(100 * 365 * 86400))

import decode_paths  # noqa: E402  (tests/: the recorder of the tests that decode, its options)
from decode_paths import pytest_addoption  # noqa: E402, F401  (pytest reads it here)
from modelmon.settings import Settings  # noqa: E402  (after the environment is set)

_HOW_TO_START = (
    "Start the local stack with `.venv/bin/modelmon stack up` (or `make stack-up`), or point "
    "the MODELMON_* / AWS_ENDPOINT_URL variables at running services (docs/local-stack.md)."
)
_TESTS = Path(__file__).parent


def pytest_configure(config: pytest.Config) -> None:
    decode_paths.configure(config)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests under tests/integration and tests/e2e get their marker without writing it.

    Items that share a node id (schemathesis gives each API operation's test the function's
    id) get their name as id, ``test_x[GET /api/v1/models]``: pytest-xdist schedules by id and
    would run one of them only, and the second decoder pass selects by id (decode_paths.py).
    """
    seen = Counter(item.nodeid for item in items)
    for item in items:
        if seen[item.nodeid] > 1 and item.parent is not None:
            item._id = item.parent.id.child(item.name)  # what pytest gives a plain item
    for item in items:
        parts = Path(str(item.fspath)).relative_to(_TESTS).parts
        if parts and parts[0] in ("integration", "e2e"):
            item.add_marker(getattr(pytest.mark, parts[0]))


def unique_name(prefix: str, request: pytest.FixtureRequest | None = None) -> str:
    """``prefix-<test name>-<8 hex>``: unique, readable, valid as a topic, key or bucket name."""
    test = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[:24] if request else ""
    return "-".join(p for p in (prefix, test.strip("-"), uuid.uuid4().hex[:8]) if p)


def wait_until(predicate: Callable[[], Any], timeout: float = 60.0, what: str = "") -> Any:
    """Poll until ``predicate()`` is truthy and return it; fail the test after ``timeout``.

    A guard against hangs, not a speed assertion: the timeout is generous on purpose.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {timeout:.0f}s waiting for {what or predicate}")
        time.sleep(0.1)


@pytest.fixture(scope="session")
def eventually() -> Callable[..., Any]:
    """``eventually(predicate, timeout=60, what="...")``: :func:`wait_until` as a fixture."""
    return wait_until


# --- settings and the services' health ------------------------------------------------------


@pytest.fixture(scope="session")
def settings() -> Settings:
    """modelmon Settings pointing at the stack (env first, then the stack's defaults).

    Session-wide: do not mutate it; derive with ``settings.model_copy(update=...)``.
    """
    return Settings()


@dataclass(frozen=True)
class StackEndpoints:
    """Where the services answered: Kafka bootstrap, Redis URL, AWS endpoint."""

    kafka: str
    redis: str
    aws: str | None


@pytest.fixture(scope="session")
def stack_endpoints(settings: Settings) -> StackEndpoints:
    """Checks that Kafka, Redis and the AWS emulator answer; fails (never skips) if not."""
    problems = [p for p in (_kafka_problem(settings), _redis_problem(settings),
                            _aws_problem(settings)) if p]  # fmt: skip
    if problems:
        pytest.fail("\n".join(["the local stack is not answering:", *problems, _HOW_TO_START]))
    return StackEndpoints(
        kafka=settings.kafka.bootstrap_servers,
        redis=settings.redis.url,
        aws=settings.aws.endpoint_url,
    )


def _kafka_problem(settings: Settings) -> str | None:
    from confluent_kafka import KafkaException

    from modelmon.adapters.kafka import make_admin

    try:
        meta = make_admin(settings.kafka).list_topics(timeout=10)
    except KafkaException as exc:
        return f"- Kafka at {settings.kafka.bootstrap_servers}: {exc}"
    return None if meta.brokers else f"- Kafka at {settings.kafka.bootstrap_servers}: no broker"


def _redis_problem(settings: Settings) -> str | None:
    import redis

    from modelmon.adapters.redis import make_redis

    client = make_redis(settings.redis)
    try:
        client.ping()
    except redis.RedisError as exc:
        return f"- Redis at {settings.redis.url}: {exc}"
    finally:
        client.close()
    return None


def _aws_problem(settings: Settings) -> str | None:
    from botocore.exceptions import BotoCoreError, ClientError

    from modelmon.adapters.aws import boto_client

    if not settings.aws.endpoint_url:
        return "- AWS: AWS_ENDPOINT_URL is empty; tests run against the emulator only"
    try:
        boto_client(settings.aws, "s3").list_buckets()
    except (BotoCoreError, ClientError) as exc:
        return f"- AWS emulator at {settings.aws.endpoint_url}: {exc}"
    return None


# --- Kafka ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def kafka_admin(settings: Settings, stack_endpoints: StackEndpoints) -> Any:
    """A confluent-kafka AdminClient on the stack's broker."""
    from modelmon.adapters.kafka import make_admin

    return make_admin(settings.kafka)


@pytest.fixture
def new_topic(kafka_admin: Any, request: pytest.FixtureRequest) -> Iterator[Callable[..., str]]:
    """Factory ``new_topic(partitions=1) -> name``: a fresh topic, deleted at teardown."""
    from confluent_kafka.admin import NewTopic

    created: list[str] = []

    def make(partitions: int = 1, **config: str) -> str:
        name = unique_name("test", request)
        spec = NewTopic(name, num_partitions=partitions, replication_factor=1, config=config)
        kafka_admin.create_topics([spec])[name].result(30)
        created.append(name)
        wait_until(lambda: _has_leaders(kafka_admin, name, partitions), 60, f"topic {name}")
        return name

    yield make
    if created:
        for future in kafka_admin.delete_topics(created, operation_timeout=30).values():
            future.result(30)


def _has_leaders(admin: Any, topic: str, partitions: int) -> bool:
    meta = admin.list_topics(topic, timeout=10).topics.get(topic)
    if meta is None or meta.error is not None or len(meta.partitions) != partitions:
        return False
    return all(p.leader >= 0 for p in meta.partitions.values())


@pytest.fixture
def consumer_group(kafka_admin: Any, request: pytest.FixtureRequest) -> Iterator[str]:
    """A unique consumer group id; the group is deleted at teardown if it exists and is empty."""
    group = unique_name("test-group", request)
    yield group
    try:
        for future in kafka_admin.delete_consumer_groups([group], request_timeout=10).values():
            future.result(10)
    except Exception:  # noqa: BLE001  (a group never joined or still closing: nothing to clean)
        pass


# --- Redis ----------------------------------------------------------------------------------


@pytest.fixture
def redis_client(settings: Settings, stack_endpoints: StackEndpoints) -> Iterator[Any]:
    """A redis.Redis client with bytes responses, closed at teardown."""
    from modelmon.adapters.redis import make_redis

    client = make_redis(settings.redis)
    yield client
    client.close()


@pytest.fixture
def redis_prefix(redis_client: Any, request: pytest.FixtureRequest) -> Iterator[str]:
    """A unique key prefix (no trailing separator); every key starting with it is deleted after.

    Use it as ``RedisSettings.key_prefix`` for code under test:
    ``settings.model_copy(update={"redis": settings.redis.model_copy(update={"key_prefix": p})})``.
    """
    prefix = unique_name("test", request)
    yield prefix
    keys = list(redis_client.scan_iter(match=f"{prefix}*", count=1000))
    for start in range(0, len(keys), 500):
        redis_client.delete(*keys[start : start + 500])


# --- AWS emulator ---------------------------------------------------------------------------


@pytest.fixture
def boto_client(settings: Settings, stack_endpoints: StackEndpoints) -> Callable[[str], Any]:
    """Factory ``boto_client("s3")``: a boto3 client on the emulator."""
    from modelmon.adapters.aws import boto_client as make

    return lambda service: make(settings.aws, service)


@pytest.fixture
def s3_bucket(boto_client: Callable[[str], Any], request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, empty S3 bucket on the emulator; emptied and deleted at teardown."""
    s3 = boto_client("s3")
    name = unique_name("test", request)[:63]
    s3.create_bucket(Bucket=name)
    yield name
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
        objects = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if objects:
            s3.delete_objects(Bucket=name, Delete={"Objects": objects})
    s3.delete_bucket(Bucket=name)


@dataclass
class SnsSqs:
    """An SNS topic with an SQS queue subscribed to it, to see what SNS delivers."""

    sns: Any
    sqs: Any
    topic_arn: str
    queue_url: str

    def received(self, count: int, timeout: float = 60.0) -> list[dict[str, Any]]:
        """Wait for ``count`` deliveries; returns the SNS envelopes (JSON-decoded bodies)."""
        import json

        got: list[dict[str, Any]] = []

        def enough() -> bool:
            resp = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
            )
            for msg in resp.get("Messages", []):
                got.append(json.loads(msg["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=msg["ReceiptHandle"])
            return len(got) >= count

        wait_until(enough, timeout, f"{count} SNS deliveries on {self.queue_url}")
        return got


@pytest.fixture
def sns_sqs(boto_client: Callable[[str], Any], request: pytest.FixtureRequest) -> Iterator[SnsSqs]:
    """A fresh SNS topic delivering to a fresh SQS queue; both deleted at teardown."""
    sns, sqs = boto_client("sns"), boto_client("sqs")
    name = unique_name("test", request)[:80]
    topic_arn = sns.create_topic(Name=name)["TopicArn"]
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    yield SnsSqs(sns=sns, sqs=sqs, topic_arn=topic_arn, queue_url=queue_url)
    sns.delete_topic(TopicArn=topic_arn)
    sqs.delete_queue(QueueUrl=queue_url)
