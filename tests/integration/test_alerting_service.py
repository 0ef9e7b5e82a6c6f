"""The alerting service on the real stack: Kafka, Redis, moto (CloudWatch, SNS->SQS), HTTP.

The service runs in a thread of the test process (its own StopFlag and metrics registry),
except for the restart test, which runs ``modelmon run alerting`` as a subprocess and
SIGKILLs it in the middle of a delivery.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import TopicPartition
from prometheus_client import CollectorRegistry

from conftest import wait_until
from modelmon.adapters.kafka import make_consumer, make_producer
from modelmon.alerting.retry import RetryPolicy
from modelmon.alerting.signing import verify
from modelmon.config import AlertRoutes, CloudWatchRoute, ModelConfig, WebhookRoute
from modelmon.events import (
    AlertEvent,
    CheckOutcome,
    DeadLetterRecord,
    FeatureMetrics,
    WindowEvaluated,
    WindowResult,
    alert_key,
)
from modelmon.keys import Keys
from modelmon.registry import Registry
from modelmon.service import StopFlag
from modelmon.settings import Settings
from modelmon_services.alerting.service import AlertingOptions, AlertingService

HOUR = timedelta(hours=1)
BASE = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - 12 * HOUR
NAMESPACE = "aws/sagemaker/Endpoints/data-metrics"
FAST = RetryPolicy(attempts=3, base_seconds=0.05, max_seconds=0.2)
SECRET_ENV = "MODELMON_TEST_ALERTING_SECRET"


# --- events ---------------------------------------------------------------------------------


def evaluated(model: str, i: int, distance: float, threshold: float = 0.1) -> WindowEvaluated:
    """Window i of ``model``: feature ``age`` with the given drift distance."""
    start = BASE + i * HOUR
    total = 1000.0 + i
    result = WindowResult(
        model_id=model,
        window_start=start,
        window_end=start + HOUR,
        evaluated_at=datetime.now(UTC),
        event_count=100,
        features={
            "age": FeatureMetrics(
                inferred_type="Integral",
                count=100,
                missing=4,
                completeness=0.96,
                min=18.0,
                max=80.0 + i,
                sum=total,
                mean=total / 96,
                distances={"linf_robust": distance, "psi": distance * 2},
            )
        },
        checks=[
            CheckOutcome(
                check_type="baseline_drift_check",
                feature="age",
                violated=distance > threshold,
                value=distance,
                threshold=threshold,
                method="linf_robust",
                description=f"Numerical distance: {distance} vs threshold: {threshold}",
            )
        ],
    )
    return WindowEvaluated(event_id=f"{model}/w{i}", model_id=model, result=result)


def alarm(model: str, i: int, feature: str = "age", value: float = 0.3) -> AlertEvent:
    """The detector's AlertEvent for a violated drift check of window i."""
    key = alert_key(model, "AllTraffic", "baseline_drift_check", feature)
    start = BASE + i * HOUR
    return AlertEvent(
        event_id=f"{key}/{start:%Y-%m-%dT%H:%M:%SZ}/ALARM",
        alert_key=key,
        model_id=model,
        window_start=start,
        window_end=start + HOUR,
        check_type="baseline_drift_check",
        feature=feature,
        value=value,
        threshold=0.1,
        method="linf_robust",
        description=f"Numerical distance: {value} exceeds numerical threshold: 0.1",
        detected_at=datetime.now(UTC),
    )


def produce(settings: Settings, topic: str, events: list[Any]) -> None:
    producer = make_producer(settings.kafka)
    for event in events:
        raw = event if isinstance(event, bytes) else event.model_dump_json().encode()
        key = b"m" if isinstance(event, bytes) else event.model_id.encode()
        producer.produce(topic, key=key, value=raw)
    assert producer.flush(30) == 0


def committed(settings: Settings, group: str, topic: str) -> int:
    consumer = make_consumer(settings.kafka, group)
    try:
        [tp] = consumer.committed([TopicPartition(topic, 0)], timeout=10)
        return max(tp.offset, 0)
    finally:
        consumer.close()


def dead_letters(settings: Settings, topic: str, count: int) -> list[DeadLetterRecord]:
    consumer = make_consumer(settings.kafka, f"read-{uuid.uuid4().hex[:8]}")
    consumer.subscribe([topic])
    got: list[DeadLetterRecord] = []

    def enough() -> bool:
        for msg in consumer.consume(10, timeout=1.0):
            if msg.error() is None:
                got.append(DeadLetterRecord.model_validate_json(msg.value() or b""))
        return len(got) >= count

    try:
        wait_until(enough, 90, f"{count} dead letters on {topic}")
        # nothing more after the ones expected
        extra = [m for m in consumer.consume(10, timeout=2.0) if m.error() is None]
        assert extra == []
    finally:
        consumer.close()
    return got


def register(settings: Settings, client: Any, config: ModelConfig) -> None:
    Registry(client, Keys(settings.redis.key_prefix)).register(config)


# --- a webhook receiver ------------------------------------------------------------------------


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    status: int


@dataclass
class Receiver:
    """A real HTTP server on 127.0.0.1 recording POSTs; optionally holds the first one."""

    port: int = 0
    hold_first: bool = False
    throttle_first: bool = False
    requests: list[Received] = field(default_factory=list)
    first_arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    @property
    def accepted(self) -> list[Received]:
        return [r for r in self.requests if r.status == 200]

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status = 200
                if receiver.throttle_first and not receiver.requests:
                    status = 429
                elif receiver.hold_first and not receiver.first_arrived.is_set():
                    receiver.first_arrived.set()
                    receiver.release.wait(120)
                    status = 503  # the sender is gone by now: this one never counted
                receiver.requests.append(Received(dict(self.headers.items()), body, status))
                try:
                    self.send_response(status)
                    if status == 429:
                        self.send_header("Retry-After", "1")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- the service in a thread -----------------------------------------------------------------


@dataclass
class Harness:
    settings: Settings
    topic: str
    group: str
    registry: CollectorRegistry

    def sample(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0


@pytest.fixture
def harness(
    settings: Settings, new_topic: Callable[..., str], consumer_group: str, redis_prefix: str
) -> Harness:
    derived = settings.model_copy(
        update={
            "redis": settings.redis.model_copy(update={"key_prefix": redis_prefix}),
            "topics": settings.topics.model_copy(update={"deadletter": new_topic()}),
        }
    )
    return Harness(derived, new_topic(), consumer_group, CollectorRegistry())


@contextmanager
def running(h: Harness, default_sns_topic: str | None = None) -> Iterator[AlertingService]:
    stop = StopFlag()
    options = AlertingOptions(
        topic=h.topic, group=h.group, policy=FAST, default_sns_topic=default_sns_topic
    )
    service = AlertingService(h.settings, options, stop, h.registry)
    thread = threading.Thread(target=service.run, daemon=True)
    thread.start()
    try:
        yield service
    finally:
        stop.set()
        thread.join(60)
        assert not thread.is_alive()


def unique_model() -> str:
    return f"m-{uuid.uuid4().hex[:10]}"


# --- tests ------------------------------------------------------------------------------------


def test_cloudwatch_gets_exactly_the_windows_metrics(
    harness: Harness, redis_client: Any, boto_client: Callable[[str], Any]
) -> None:
    model = unique_model()
    route = CloudWatchRoute(schedule_name="hourly")
    register(
        harness.settings,
        redis_client,
        ModelConfig(
            model_id=model, endpoint_name=f"ep-{model}", alerts=AlertRoutes(cloudwatch=route)
        ),
    )
    distances = [0.05, 0.1234567890123, 0.31, 0.0]
    produce(
        harness.settings, harness.topic, [evaluated(model, i, d) for i, d in enumerate(distances)]
    )

    with running(harness):
        wait_until(lambda: committed(harness.settings, harness.group, harness.topic) == 4, 90)

    dims = [
        {"Name": "Endpoint", "Value": f"ep-{model}"},
        {"Name": "MonitoringSchedule", "Value": "hourly"},
    ]

    def query(qid: str, name: str, stat: str) -> dict[str, Any]:
        metric = {"Namespace": NAMESPACE, "MetricName": name, "Dimensions": dims}
        return {"Id": qid, "MetricStat": {"Metric": metric, "Period": 3600, "Stat": stat}}

    resp = boto_client("cloudwatch").get_metric_data(
        MetricDataQueries=[
            query("drift", "feature_baseline_drift_age", "Maximum"),
            query("nonnull", "feature_non_null_age", "Sum"),
            query("n", "feature_data_age", "SampleCount"),
            query("total", "feature_data_age", "Sum"),
            query("high", "feature_data_age", "Maximum"),
        ],
        StartTime=BASE,
        EndTime=BASE + 10 * HOUR,
        ScanBy="TimestampAscending",
    )
    results = {r["Id"]: r for r in resp["MetricDataResults"]}
    assert results["drift"]["Values"] == distances
    assert [t.replace(tzinfo=UTC) for t in results["drift"]["Timestamps"]] == [
        BASE + (i + 1) * HOUR for i in range(4)
    ]
    assert results["nonnull"]["Values"] == [0.96] * 4
    assert results["n"]["Values"] == [96.0] * 4
    assert results["total"]["Values"] == [1000.0 + i for i in range(4)]
    assert results["high"]["Values"] == [80.0 + i for i in range(4)]
    assert (
        harness.sample(
            "modelmon_alerting_deliveries_total", route="cloudwatch", outcome="delivered"
        )
        == 4
    )


def test_sns_subscriber_receives_the_alert(
    harness: Harness, redis_client: Any, sns_sqs: Any
) -> None:
    model = unique_model()
    routes = AlertRoutes(sns_topic_arn=sns_sqs.topic_arn, cloudwatch=CloudWatchRoute(enabled=False))
    register(harness.settings, redis_client, ModelConfig(model_id=model, alerts=routes))
    produce(harness.settings, harness.topic, [alarm(model, 0, feature="income", value=0.42)])

    with running(harness):
        [envelope] = sns_sqs.received(1)
        wait_until(lambda: committed(harness.settings, harness.group, harness.topic) == 1, 90)

    message = json.loads(envelope["Message"])
    assert (message["model_id"], message["feature"], message["state"]) == (model, "income", "ALARM")
    assert message["value"] == 0.42 and message["resolved"] is False
    assert envelope["Subject"] == f"modelmon ALARM: {model} baseline_drift_check income"
    assert envelope["MessageAttributes"]["feature"]["Value"] == "income"
    assert envelope["MessageAttributes"]["model_id"]["Value"] == model


def test_webhooks_get_signed_json_and_slack_bodies(
    harness: Harness, redis_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, "the-shared-secret")
    plain, slack = Receiver().start(), Receiver().start()
    model = unique_model()
    routes = AlertRoutes(
        webhooks=[
            WebhookRoute(url=plain.url, allow_http=True, secret_env=SECRET_ENV),
            WebhookRoute(url=slack.url, allow_http=True, format="slack", secret_env=SECRET_ENV),
        ],
        cloudwatch=CloudWatchRoute(enabled=False),
    )
    register(harness.settings, redis_client, ModelConfig(model_id=model, alerts=routes))
    # the same event twice (a producer retry, a replay): delivered once
    produce(harness.settings, harness.topic, [alarm(model, 0), alarm(model, 0)])
    try:
        with running(harness):
            wait_until(lambda: committed(harness.settings, harness.group, harness.topic) == 2, 90)
    finally:
        plain.stop()
        slack.stop()

    assert (len(plain.accepted), len(slack.accepted)) == (1, 1)
    for got in (plain.accepted[0], slack.accepted[0]):
        sig = got.headers["X-Modelmon-Signature"]
        ts = got.headers["X-Modelmon-Timestamp"]
        assert verify(b"the-shared-secret", ts, got.body, sig, time.time())
        assert not verify(b"wrong-secret", ts, got.body, sig, time.time())
        assert got.headers["X-Modelmon-Delivery"] == alarm(model, 0).event_id
    body = json.loads(plain.accepted[0].body)
    assert (body["model_id"], body["feature"], body["state"]) == (model, "age", "ALARM")
    slack_body = json.loads(slack.accepted[0].body)
    assert slack_body["text"].startswith(f":rotating_light: ALARM {model}/AllTraffic")
    assert slack_body["blocks"][0]["type"] == "header"


def test_a_window_with_several_state_changes_is_one_slack_digest_after_a_429(
    harness: Harness, redis_client: Any
) -> None:
    slack, plain = Receiver(throttle_first=True).start(), Receiver().start()
    model = unique_model()
    routes = AlertRoutes(
        webhooks=[
            WebhookRoute(url=slack.url, allow_http=True, format="slack"),
            WebhookRoute(url=plain.url, allow_http=True),
        ],
        cloudwatch=CloudWatchRoute(enabled=False),
    )
    register(harness.settings, redis_client, ModelConfig(model_id=model, alerts=routes))
    ev = evaluated(model, 0, 0.3)
    income = ev.result.checks[0].model_copy(update={"feature": "income", "value": 0.5})
    result = ev.result.model_copy(update={"checks": [*ev.result.checks, income]})
    produce(harness.settings, harness.topic, [ev.model_copy(update={"result": result})])
    try:
        with running(harness):
            wait_until(lambda: committed(harness.settings, harness.group, harness.topic) == 1, 90)
    finally:
        slack.stop()
        plain.stop()
    assert [r.status for r in slack.requests] == [429, 200]
    digest = json.loads(slack.accepted[0].body)
    assert digest["text"].startswith(f":rotating_light: {model}/AllTraffic: 2 check(s) in ALARM")
    assert [b["type"] for b in digest["blocks"]] == ["header", "section", "section", "context"]
    assert sorted(json.loads(r.body)["feature"] for r in plain.accepted) == ["age", "income"]
    assert harness.sample("modelmon_alerting_retries_total", route="webhook") == 1


def test_webhook_down_retries_then_dead_letters_and_later_alerts_flow(
    harness: Harness, redis_client: Any
) -> None:
    port = free_port()  # nothing listens here yet: connection refused
    model = unique_model()
    receiver = Receiver(port=port)
    routes = AlertRoutes(
        webhooks=[WebhookRoute(url=receiver.url, allow_http=True, timeout_seconds=2)],
        cloudwatch=CloudWatchRoute(enabled=False),
    )
    register(harness.settings, redis_client, ModelConfig(model_id=model, alerts=routes))
    produce(harness.settings, harness.topic, [alarm(model, 0, feature="income")])

    with running(harness):
        [record] = dead_letters(harness.settings, harness.settings.topics.deadletter, 1)
        wait_until(lambda: committed(harness.settings, harness.group, harness.topic) == 1, 90)
        assert harness.sample("modelmon_alerting_retries_total", route="webhook") == 2
        receiver.start()
        try:
            produce(harness.settings, harness.topic, [alarm(model, 0, feature="age")])
            wait_until(lambda: len(receiver.accepted) == 1, 90)
            wait_until(lambda: committed(harness.settings, harness.group, harness.topic) == 2, 90)
        finally:
            receiver.stop()

    assert record.service == "alerting" and record.model_id == model
    assert record.error_type == "RetryableDeliveryError"
    assert f"webhook[0]:http://127.0.0.1:{port}: gave up on delivery webhook0|" in record.reason
    assert "after 3 attempt(s)" in record.reason and "unreachable" in record.reason
    failed = json.loads(base64.b64decode(record.original))
    assert failed["notification"]["feature"] == "income"
    assert json.loads(receiver.accepted[0].body)["feature"] == "age"
    assert harness.sample("modelmon_alerting_dead_letters_total", route="webhook") == 1
    assert (
        harness.sample("modelmon_alerting_deliveries_total", route="webhook", outcome="delivered")
        == 1
    )


def test_bad_input_and_a_bad_route_are_dead_lettered_and_the_service_goes_on(
    harness: Harness, redis_client: Any
) -> None:
    receiver = Receiver().start()
    model = unique_model()
    routes = AlertRoutes(
        webhooks=[WebhookRoute(url="not-a-url"), WebhookRoute(url=receiver.url, allow_http=True)],
        cloudwatch=CloudWatchRoute(enabled=False),
    )
    register(harness.settings, redis_client, ModelConfig(model_id=model, alerts=routes))
    produce(harness.settings, harness.topic, [b"{not json", b'{"type": "alert"}', alarm(model, 0)])
    try:
        with running(harness):
            records = dead_letters(harness.settings, harness.settings.topics.deadletter, 3)
            wait_until(lambda: len(receiver.accepted) == 1, 90)
            wait_until(lambda: committed(harness.settings, harness.group, harness.topic) == 3, 90)
    finally:
        receiver.stop()
    assert [r.error_type for r in records] == [
        "InvalidEventError",
        "InvalidEventError",
        "RejectedDeliveryError",
    ]
    assert [base64.b64decode(r.original) for r in records[:2]] == [
        b"{not json",
        b'{"type": "alert"}',
    ]
    assert [r.source_offset for r in records] == [0, 1, 2]
    assert all(r.reason.startswith("not an alerts-topic event") for r in records[:2])
    assert "after 1 attempt(s)" in records[2].reason
    assert "URL scheme 'none' refused (https only; http with allow_http)" in records[2].reason
    assert harness.sample("modelmon_alerting_retries_total", route="webhook") == 0


def _service_env(h: Harness) -> dict[str, str]:
    return {
        **os.environ,
        "MODELMON_REDIS__KEY_PREFIX": h.settings.redis.key_prefix,
        "MODELMON_TOPICS__DEADLETTER": h.settings.topics.deadletter,
        "MODELMON_ALERTING__TOPIC": h.topic,
        "MODELMON_ALERTING__GROUP": h.group,
        "MODELMON_ADMIN__PORT": "0",
        "MODELMON_KAFKA__EXTRA": json.dumps({"session.timeout.ms": "6000"}),
        SECRET_ENV: "restart-secret",
    }


def _start(h: Harness, log: Path) -> subprocess.Popen[bytes]:
    modelmon = Path(sys.executable).with_name("modelmon")
    return subprocess.Popen(
        [str(modelmon), "run", "alerting"],
        env=_service_env(h),
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
    )


def test_persistent_violation_is_one_alarm_and_one_resolved_across_a_sigkill(
    harness: Harness, redis_client: Any, sns_sqs: Any, tmp_path: Path
) -> None:
    first, second = Receiver().start(), Receiver(hold_first=True).start()
    model = unique_model()
    routes = AlertRoutes(
        sns_topic_arn=sns_sqs.topic_arn,
        webhooks=[
            WebhookRoute(url=first.url, allow_http=True, secret_env=SECRET_ENV),
            WebhookRoute(url=second.url, allow_http=True, timeout_seconds=60),
        ],
        cloudwatch=CloudWatchRoute(enabled=False),
    )
    register(harness.settings, redis_client, ModelConfig(model_id=model, alerts=routes))
    # five violated windows (each: WindowEvaluated then the detector's AlertEvent), then clear
    events: list[Any] = []
    for i in range(5):
        events += [evaluated(model, i, 0.3 + i / 100), alarm(model, i, value=0.3 + i / 100)]
    events.append(evaluated(model, 5, 0.02))
    produce(harness.settings, harness.topic, events)
    log = tmp_path / "alerting.log"

    proc = _start(harness, log)
    try:
        wait_until(second.first_arrived.is_set, 120, "the held delivery to reach the 2nd hook")
        # deliveries of one event run concurrently: kill once SNS and the 1st hook are recorded
        plan_key = Keys(harness.settings.redis.key_prefix).alert_plan(model, f"{model}/w0")
        alarm_id = alarm(model, 0).event_id
        recorded = [f"d:sns|{alarm_id}".encode(), f"d:webhook0|{alarm_id}".encode()]
        wait_until(lambda: all(redis_client.hexists(plan_key, f) for f in recorded), 60)
        assert not redis_client.hexists(plan_key, f"d:webhook1|{alarm_id}")
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        second.release.set()
        proc = _start(harness, log)
        wait_until(lambda: committed(harness.settings, harness.group, harness.topic) == 11, 180)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        first.stop()
        second.stop()

    ok_id = alarm_id.replace(
        f"{BASE:%Y-%m-%dT%H:%M:%SZ}/ALARM", f"{BASE + 5 * HOUR:%Y-%m-%dT%H:%M:%SZ}/OK"
    )
    delivered = [r.headers["X-Modelmon-Delivery"] for r in first.accepted]
    assert delivered == [alarm_id, ok_id], log.read_text()[-3000:]
    assert [r.headers["X-Modelmon-Delivery"] for r in second.accepted] == [alarm_id, ok_id]
    assert [r.status for r in second.requests] == [503, 200, 200]
    envelopes = sns_sqs.received(2)
    extra = sns_sqs.sqs.receive_message(QueueUrl=sns_sqs.queue_url, WaitTimeSeconds=1)
    assert extra.get("Messages", []) == []
    states = [json.loads(e["Message"])["state"] for e in envelopes]
    assert sorted(states) == ["ALARM", "OK"]
    assert json.loads(first.accepted[1].body)["value"] == 0.02


def test_redis_down_the_event_waits_without_commit_and_is_delivered_once_redis_is_back(
    harness: Harness, sns_sqs: Any, tmp_path: Path
) -> None:
    port = free_port()  # a Redis of our own that is not running yet
    redis_down = harness.settings.redis.model_copy(update={"url": f"redis://127.0.0.1:{port}/0"})
    h = Harness(
        harness.settings.model_copy(update={"redis": redis_down}),
        harness.topic,
        harness.group,
        harness.registry,
    )
    model = unique_model()  # not registered: the default routes (the default SNS topic) apply
    produce(h.settings, h.topic, [alarm(model, 0)])
    server: subprocess.Popen[bytes] | None = None
    try:
        with running(h, default_sns_topic=sns_sqs.topic_arn) as service:
            wait_until(lambda: h.sample("modelmon_alerting_event_retries_total") >= 2, 90)
            assert committed(h.settings, h.group, h.topic) == 0
            assert not service.health.ready and "dependency down" in service.health.detail
            server = subprocess.Popen(
                ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", str(tmp_path)],
                stdout=subprocess.DEVNULL,
            )  # fmt: skip
            wait_until(lambda: committed(h.settings, h.group, h.topic) == 1, 120)
            assert service.health.ready
    finally:
        if server is not None:
            server.terminate()
            server.wait(30)
    [envelope] = sns_sqs.received(1)
    extra = sns_sqs.sqs.receive_message(QueueUrl=sns_sqs.queue_url, WaitTimeSeconds=1)
    assert extra.get("Messages", []) == []
    assert json.loads(envelope["Message"])["notification_id"] == alarm(model, 0).event_id
