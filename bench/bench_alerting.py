"""Alerting benchmark: end-to-end time from an alert event produced to its delivery.

Runs ``modelmon run alerting`` as a subprocess on the local stack, produces N AlertEvents (each
a new alert key, so each is a state change that notifies), paced at --rate per second, and
records when each arrives (a) in an SQS queue subscribed to the SNS topic and (b) at a local
webhook receiver. Prints a markdown table (p50/p99/max) on stdout; progress goes to stderr.

Usage: .venv/bin/python bench/bench_alerting.py [--alerts 200] [--rate 20]
Needs the local stack (``.venv/bin/modelmon stack up``).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from modelmon.stack import StackConfig, env_vars

for _k, _v in env_vars(StackConfig()).items():
    os.environ.setdefault(_k, _v)

from confluent_kafka.admin import NewTopic  # noqa: E402

from modelmon.adapters.aws import boto_client  # noqa: E402
from modelmon.adapters.kafka import make_admin, make_producer  # noqa: E402
from modelmon.adapters.redis import make_redis  # noqa: E402
from modelmon.config import AlertRoutes, CloudWatchRoute, ModelConfig, WebhookRoute  # noqa: E402
from modelmon.events import AlertEvent, alert_key  # noqa: E402
from modelmon.keys import Keys  # noqa: E402
from modelmon.registry import Registry  # noqa: E402
from modelmon.settings import Settings  # noqa: E402
from summary import headline  # noqa: E402  (bench/ is the script's directory)

ROOT = Path(__file__).resolve().parent.parent


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Arrivals:
    """notification id -> first arrival time (time.time()), thread-safe."""

    def __init__(self) -> None:
        self.times: dict[str, float] = {}
        self._lock = threading.Lock()

    def add(self, key: str, when: float) -> None:
        with self._lock:
            self.times.setdefault(key, when)

    def count(self) -> int:
        with self._lock:
            return len(self.times)


def start_receiver(arrivals: Arrivals) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            arrivals.add(self.headers.get("X-Modelmon-Delivery", ""), time.time())
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def poll_sqs(sqs: Any, queue_url: str, arrivals: Arrivals, stop: threading.Event) -> None:
    while not stop.is_set():
        resp = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        now = time.time()
        for msg in resp.get("Messages", []):
            body = json.loads(json.loads(msg["Body"])["Message"])
            arrivals.add(body["notification_id"], now)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=msg["ReceiptHandle"])


def make_alert(model: str, i: int) -> AlertEvent:
    feature = f"f{i:05d}"
    key = alert_key(model, "AllTraffic", "baseline_drift_check", feature)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return AlertEvent(
        event_id=f"{key}/2026-01-01T00:00:00Z/ALARM",
        alert_key=key,
        model_id=model,
        window_start=start,
        window_end=start + timedelta(hours=1),
        check_type="baseline_drift_check",
        feature=feature,
        value=0.3,
        threshold=0.1,
        method="linf_robust",
        description="Numerical distance: 0.3 exceeds numerical threshold: 0.1",
        detected_at=datetime.now(UTC),
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


class Fixture:
    """Fresh topics, Redis prefix, SNS topic + SQS queue for one run; removed at the end."""

    def __init__(self, settings: Settings) -> None:
        run = uuid.uuid4().hex[:8]
        self.run = run
        self.topic, self.dlq = f"bench-alerts-{run}", f"bench-dlq-{run}"
        self.prefix = f"bench-alerting-{run}"
        self.admin = make_admin(settings.kafka)
        for name in (self.topic, self.dlq):
            self.admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)])[
                name
            ].result(30)
        self.sns, self.sqs = boto_client(settings.aws, "sns"), boto_client(settings.aws, "sqs")
        self.topic_arn = self.sns.create_topic(Name=f"bench-{run}")["TopicArn"]
        self.queue_url = self.sqs.create_queue(QueueName=f"bench-{run}")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        self.sns.subscribe(TopicArn=self.topic_arn, Protocol="sqs", Endpoint=queue_arn)
        self.redis = make_redis(settings.redis)

    def close(self) -> None:
        self.admin.delete_topics([self.topic, self.dlq])
        self.sns.delete_topic(TopicArn=self.topic_arn)
        self.sqs.delete_queue(QueueUrl=self.queue_url)
        keys = list(self.redis.scan_iter(match=f"{self.prefix}*", count=1000))
        for start in range(0, len(keys), 500):
            self.redis.delete(*keys[start : start + 500])


def wait_for(arrivals: Arrivals, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while arrivals.count() < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {arrivals.count()}/{count} deliveries after {timeout}s")
        time.sleep(0.05)


def run(alerts: int, rate: float) -> dict[str, list[float]]:
    settings = Settings()
    fx = Fixture(settings)
    webhook, sns = Arrivals(), Arrivals()
    server = start_receiver(webhook)
    stop = threading.Event()
    poller = threading.Thread(target=poll_sqs, args=(fx.sqs, fx.queue_url, sns, stop), daemon=True)
    poller.start()
    model = f"bench-{fx.run}"
    routes = AlertRoutes(
        sns_topic_arn=fx.topic_arn,
        webhooks=[
            WebhookRoute(url=f"http://127.0.0.1:{server.server_address[1]}/hook", allow_http=True)
        ],
        cloudwatch=CloudWatchRoute(enabled=False),
    )
    Registry(fx.redis, Keys(fx.prefix)).register(ModelConfig(model_id=model, alerts=routes))
    env = {
        **os.environ,
        "MODELMON_REDIS__KEY_PREFIX": fx.prefix,
        "MODELMON_TOPICS__DEADLETTER": fx.dlq,
        "MODELMON_ALERTING__TOPIC": fx.topic,
        "MODELMON_ALERTING__GROUP": f"bench-{fx.run}",
        "MODELMON_ADMIN__PORT": "0",
        "MODELMON_LOG_LEVEL": "WARNING",
    }
    service = subprocess.Popen([str(ROOT / ".venv/bin/modelmon"), "run", "alerting"], env=env)
    producer = make_producer(settings.kafka, **{"linger.ms": 0})
    sent: dict[str, float] = {}
    try:
        for i in range(alerts + 1):  # alert 0 warms up (consumer join, connections)
            alert = make_alert(model, i)
            sent[alert.event_id] = time.time()
            producer.produce(fx.topic, key=model.encode(), value=alert.model_dump_json().encode())
            producer.flush(10)
            if i == 0:
                wait_for(webhook, 1, 120)
                wait_for(sns, 1, 120)
                log("warmed up; producing")
            elif rate > 0:
                time.sleep(1.0 / rate)
        wait_for(webhook, alerts + 1, 300)
        wait_for(sns, alerts + 1, 300)
    finally:
        service.send_signal(signal.SIGTERM)
        service.wait(60)
        stop.set()
        poller.join(10)
        server.shutdown()
        fx.close()
    warm = make_alert(model, 0).event_id
    del sent[warm]
    return {
        "SNS → SQS receive": [sns.times[k] - t for k, t in sent.items()],
        "webhook delivery": [webhook.times[k] - t for k, t in sent.items()],
        "_span": [max(webhook.times[k] for k in sent) - min(sent.values())],
    }


def table(results: dict[str, list[float]], alerts: int, rate: float) -> str:
    span = results.pop("_span")[0]
    pace = f"at {rate:g}/s" if rate > 0 else "produced at once"
    lines = [
        f"### Alerting end to end ({alerts} alerts {pace}, one partition, 2-core box)",
        "",
        "| route | n | p50 ms | p99 ms | max ms |",
        "|---|---|---|---|---|",
    ]
    for route, values in results.items():
        p50, p99 = percentile(values, 0.5) * 1000, percentile(values, 0.99) * 1000
        headline("alerting", f"alert event produced -> {route}, p50 / p99",
                 f"{p50:.0f} / {p99:.0f} ms")  # fmt: skip
        lines.append(
            f"| {route} | {len(values)} | {p50:.1f} | {p99:.1f} | {max(values) * 1000:.1f} |"
        )
    lines.append("")
    lines.append(
        f"All {alerts} delivered to both routes {span:.2f} s after the first was produced"
        f" ({alerts / span:.0f} alerts/s)."
    )
    lines.append("")
    lines.append(
        "From produce() of the AlertEvent to arrival; the two routes are delivered concurrently,"
        " and SQS arrival includes the receive long-poll."
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--alerts", type=int, default=200)
    parser.add_argument("--rate", type=float, default=10.0, help="alerts/s; 0: all at once")
    args = parser.parse_args()
    results = run(args.alerts, args.rate)
    out = table(results, args.alerts, args.rate)
    print(out)


if __name__ == "__main__":
    main()
