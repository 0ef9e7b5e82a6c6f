"""The demo, short, as a test of the whole chain (``modelmon demo run`` on the real stack).

One run of about three minutes: 5-second windows, 40 requests/s, normal -> incident (income
shifted, balance scaled x3, new regions, credit_score nulls, age as a string, labels flipped,
model v2 that predicts defaults for women far more readily) -> recovered.
Everything is fresh for the run (``--namespace``: Kafka topics, consumer groups, Redis prefix;
model id, bucket, SNS topic), so it never collides with other tests on the shared stack.

Asserted: the drifted features, and only those, raise ``baseline_drift_check``; the new
regions raise ``categorical_values_check``; the nulls and strings raise completeness and type
violations; the flipped labels raise model quality; v2 raises exactly one bias drift alarm
(``sex=female/DPPL``) and nothing else of bias; nothing fires in the normal phase; the first
drift notification arrives within ``LATENCY_BOUND_S`` of the incident's first request (the
one timed bound, generous on purpose); every request that succeeded is in the archive, by
inference id; CloudWatch holds the drift metrics; an SNS -> SQS subscriber got the alerts; and
each alarm is followed by a "resolved" after the return to normal.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from modelmon.settings import Settings

WINDOW_S = 5
RATE = 40.0
DURATION_S = 60.0  # traffic: 18 s normal, 18 s incident, 24 s recovered
DRAIN_S = 25.0
DRIFTED = {"income", "balance"}
NEW_CATEGORY_FEATURES = {"region"}
MISSING_FEATURES = {"credit_score"}
WRONG_TYPE_FEATURES = {"age"}
BIAS_ALARMS = {"sex=female/DPPL"}  # facet=value/metric: v2 treats women worse
# Incident start -> first drift notification. The first fully drifted window ends at most
# 2 windows after the incident starts; it completes after lateness (1 s) or the idle timeout
# (2 s), then the detector and alerting each take a poll or two. 2 windows + 20 s is generous.
LATENCY_BOUND_S = 2 * WINDOW_S + 20.0
RUN_TIMEOUT_S = 600
REPORT_FILES = (
    "statistics.json",
    "constraint_violations.json",
    "report.html",
    "modelmon-window.json",
    "window-result.parquet",  # the durable tier of the window's result (docs/streaming.md)
)
STAYS_UP = "everything stays up"
#: the demo fixture runs inside the first test: allow it RUN_TIMEOUT_S plus the asserts (the
#: default 300 s is too short on a loaded 2-core machine with seven services starting)
pytestmark = pytest.mark.timeout(RUN_TIMEOUT_S + 60)


@dataclass
class DemoOutcome:
    """What one demo run left behind."""

    returncode: int
    output: str
    run_dir: Path
    record: dict[str, Any]
    detector_alerts: list[dict[str, Any]]
    notifications: list[dict[str, Any]]
    inference_ids: set[str]
    sqs_messages: list[dict[str, Any]]
    live: dict[str, str]  # every address and command the demo printed -> "ok" or what failed

    def phase(self, name: str) -> dict[str, Any]:
        return next(p for p in self.record["phases"] if p["name"] == name)


def _jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _env() -> dict[str, str]:
    """Fewer partitions than the defaults: a lighter run on the shared 2-core machine."""
    env = dict(os.environ)
    env.update(
        {
            "MODELMON_TOPICS__CAPTURE_PARTITIONS": "2",
            "MODELMON_TOPICS__ALERTS_PARTITIONS": "1",
            "MODELMON_TOPICS__DEADLETTER_PARTITIONS": "1",
            "MODELMON_TOPICS__LABELS_PARTITIONS": "1",
        }
    )
    for key in [k for k in env if k.startswith(("MODELMON_TOPICS__", "MODELMON_REDIS__KEY"))]:
        if not key.endswith("_PARTITIONS"):
            del env[key]  # --namespace names the topics and the Redis prefix
    return env


def _subscribe_queue(boto: Callable[[str], Any], name: str) -> tuple[str, str]:
    """Our own SQS subscriber on the SNS topic the demo will use (created idempotently)."""
    sns, sqs = boto("sns"), boto("sqs")
    topic_arn = sns.create_topic(Name=name)["TopicArn"]
    queue_url = sqs.create_queue(QueueName=f"{name}-e2e")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn["Attributes"]["QueueArn"])
    return topic_arn, queue_url


def _receive_all(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    while True:
        resp = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        if not resp.get("Messages"):
            return got
        for msg in resp["Messages"]:
            got.append(json.loads(msg["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=msg["ReceiptHandle"])


def _cleanup(boto: Callable[[str], Any], kafka_admin: Any, name: str, topic_arn: str) -> None:
    s3, sns, sqs = boto("s3"), boto("sns"), boto("sqs")
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
            objects = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if objects:
                s3.delete_objects(Bucket=name, Delete={"Objects": objects})
        s3.delete_bucket(Bucket=name)
    except s3.exceptions.NoSuchBucket:
        pass
    sns.delete_topic(TopicArn=topic_arn)
    for queue in (name, f"{name}-e2e"):
        with contextlib.suppress(sqs.exceptions.QueueDoesNotExist):
            sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=queue)["QueueUrl"])
    topics = [
        f"{name}.{t}.v1" for t in ("capture", "alerts", "deadletter", "labels", "attributions")
    ]
    existing = set(kafka_admin.list_topics(timeout=10).topics)
    doomed = [t for t in topics if t in existing]
    if doomed:
        for future in kafka_admin.delete_topics(doomed, operation_timeout=30).values():
            future.result(30)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, kafka_admin: Any) -> Iterator[DemoOutcome]:
    """Run the short demo once; every test below reads what it left behind."""
    import uuid

    from modelmon.adapters.aws import boto_client
    from modelmon.adapters.redis import make_redis

    settings = Settings()
    name = f"e2e-demo-{uuid.uuid4().hex[:8]}"

    def boto(service: str) -> Any:
        return boto_client(settings.aws, service)

    topic_arn, queue_url = _subscribe_queue(boto, name)
    runs_dir = tmp_path_factory.mktemp("demo")
    argv = [
        sys.executable, "-c", "from modelmon.cli import main; main()",
        "demo", "run", "--no-stack", "--namespace", name, "--model-id", name, "--bucket", name,
        "--window", str(WINDOW_S), "--rate", str(RATE), "--duration", str(DURATION_S),
        "--drain", str(DRAIN_S), "--runs-dir", str(runs_dir),
    ]  # fmt: skip
    try:
        done, live = _run_and_probe(argv, tmp_path_factory.mktemp("probe"))
        run_dir = next(runs_dir.iterdir())
        ids_file = run_dir / "inference-ids.tsv"  # absent if the demo failed before traffic
        ids = ids_file.read_text().splitlines() if ids_file.exists() else []
        yield DemoOutcome(
            returncode=done.returncode,
            output=done.stdout + done.stderr,
            run_dir=run_dir,
            record=json.loads((run_dir / "run.json").read_text()),
            detector_alerts=[
                a for a in _jsonl(run_dir / "alerts-topic.jsonl") if a.get("type") == "alert"
            ],
            notifications=_jsonl(run_dir / "notifications.jsonl"),
            inference_ids={line.split("\t")[0] for line in ids},
            sqs_messages=_receive_all(boto("sqs"), queue_url),
            live=live,
        )
    finally:
        _cleanup(boto, kafka_admin, name, topic_arn)
        redis = make_redis(settings.redis)
        keys = list(redis.scan_iter(match=f"{name}*", count=1000))
        if keys:
            redis.delete(*keys)
        redis.close()


def _run_and_probe(argv: list[str], cwd: Path) -> tuple[Any, dict[str, str]]:
    """Run the demo until it says everything stays up; probe what it printed; Ctrl-C it."""
    import signal
    import threading

    proc = subprocess.Popen(
        argv, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    watchdog = threading.Timer(RUN_TIMEOUT_S, proc.kill)
    watchdog.start()
    lines: list[str] = []
    live: dict[str, str] = {}
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith(STAYS_UP):
                try:
                    live = probe_printed("".join(lines), cwd)
                finally:
                    proc.send_signal(signal.SIGINT)  # the user's Ctrl-C
                break
        rest, _ = proc.communicate(timeout=180)
    finally:
        watchdog.cancel()
    output = "".join(lines) + (rest or "")
    return subprocess.CompletedProcess(argv, proc.returncode, output, ""), live


def probe_printed(output: str, cwd: Path) -> dict[str, str]:
    """Every http(s):// and s3:// address and file:// path in the output, and the commands of
    the closing "look here" block, each tried now: "ok" or what went wrong."""
    import re
    import shlex
    import urllib.error
    import urllib.request

    from modelmon.adapters.aws import boto_client

    got: dict[str, str] = {}
    for url in set(re.findall(r"https?://[^\s),]+", output)):
        try:
            urllib.request.urlopen(url, timeout=5).close()
            got[url] = "ok"
        except urllib.error.HTTPError:
            got[url] = "ok"  # an HTTP answer (e.g. 405 to a GET of /invocations) is an answer
        except OSError as exc:
            got[url] = f"no answer: {exc}"
    s3 = boto_client(Settings().aws, "s3")
    for uri in set(re.findall(r"s3://[^\s),]+", output)):
        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        found = s3.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1).get("KeyCount", 0)
        got[uri] = "ok" if found else "empty"
    for path in set(re.findall(r"file://(\S+)", output)):
        got[path] = "ok" if Path(path).is_file() else "missing"
    for label in ("tail alerts", "list reports", "any window"):
        line = next(ln for ln in output.splitlines() if ln.startswith(label))
        words = shlex.split(line[len(label) :])
        first = next(i for i, w in enumerate(words) if w == "modelmon")
        # a new shell: only what the demo printed (PATH to find Python, HOME for boto3)
        shell = {k: os.environ[k] for k in ("PATH", "HOME") if k in os.environ}
        env = dict(shell, **dict(w.split("=", 1) for w in words[:first]))
        args = words[first + 1 :]
        if label == "tail alerts":
            args += ["--from-beginning", "--max", "1", "--idle-exit", "30"]
        done = subprocess.run(
            [sys.executable, "-c", "from modelmon.cli import main; main()", *args],
            env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        got[label] = "ok" if done.returncode == 0 and done.stdout else done.stdout + done.stderr
    return got


def _alarms(alerts: list[dict[str, Any]], check: str) -> set[str]:
    return {a["feature"] for a in alerts if a["check_type"] == check and a["state"] == "ALARM"}


def test_every_address_the_demo_prints_answers_while_it_runs(demo: DemoOutcome) -> None:
    assert demo.live, demo.output[-4000:]  # the demo reached "everything stays up"
    assert {k: v for k, v in demo.live.items() if v != "ok"} == {}
    assert {"tail alerts", "list reports", "any window"} <= set(demo.live)
    assert any(k.startswith("http://127.0.0.1") for k in demo.live)


def test_the_incident_report_is_in_the_run_directory(demo: DemoOutcome) -> None:
    page = (demo.run_dir / "incident-report.html").read_text()
    assert "violation(s)" in page
    assert any(f in page for f in DRIFTED | NEW_CATEGORY_FEATURES)


def test_something_moves_during_the_normal_phase(demo: DemoOutcome) -> None:
    ticks = [ln for ln in demo.output.splitlines() if "windows evaluated" in ln and "normal" in ln]
    assert len(ticks) >= 2  # one line every 5 s of the 18 s normal phase
    assert any("requests (" in ln for ln in ticks)


def test_demo_ran_every_service(demo: DemoOutcome) -> None:
    assert demo.returncode == 0, demo.output[-4000:]
    assert demo.record["services"] == {
        name: "running"
        for name in (
            "model",
            "api",
            "archiver",
            "aggregator",
            "detector",
            "alerting",
            "labeljoin",
            "capture-proxy",
        )
    }, demo.output[-4000:]
    assert demo.output.splitlines()[0].startswith("dashboard  http://127.0.0.1:")  # first
    assert demo.record["notes"] == []
    sent = sum(p["sent"] for p in demo.record["phases"])
    assert sent == sum(p["ok"] for p in demo.record["phases"]) == len(demo.inference_ids)


def test_only_the_drifted_features_raise_drift_alerts(demo: DemoOutcome) -> None:
    assert _alarms(demo.detector_alerts, "baseline_drift_check") == DRIFTED
    assert _alarms(demo.notifications, "baseline_drift_check") == DRIFTED


def test_new_categories_raise_categorical_values_check(demo: DemoOutcome) -> None:
    assert _alarms(demo.detector_alerts, "categorical_values_check") == NEW_CATEGORY_FEATURES
    assert _alarms(demo.notifications, "categorical_values_check") == NEW_CATEGORY_FEATURES


def test_data_quality_fault_raises_completeness_and_type_violations(demo: DemoOutcome) -> None:
    completeness = _alarms(demo.detector_alerts, "completeness_check")
    types = _alarms(demo.detector_alerts, "data_type_check")
    assert completeness >= MISSING_FEATURES
    assert types >= WRONG_TYPE_FEATURES
    assert completeness | types == MISSING_FEATURES | WRONG_TYPE_FEATURES


def test_normal_traffic_raises_nothing(demo: DemoOutcome) -> None:
    incident_start = demo.phase("incident")["started_at"]
    early = [
        a
        for a in demo.detector_alerts
        if _epoch(a["window_end"]) <= incident_start and a["state"] == "ALARM"
    ]
    assert early == []


def test_flipped_labels_raise_a_model_quality_alarm_that_resolves(demo: DemoOutcome) -> None:
    assert _alarms(demo.detector_alerts, "model_quality_check") >= {"accuracy"}
    assert _alarms(demo.notifications, "model_quality_check") >= {"accuracy"}
    recovered_start = demo.phase("recovered")["started_at"]
    assert any(
        n["check_type"] == "model_quality_check" and n["state"] == "OK"
        and n["received_at"] >= recovered_start
        for n in demo.notifications
    )  # fmt: skip
    from modelmon.adapters.aws import boto_client

    s3 = boto_client(Settings().aws, "s3")
    bucket, model_id = demo.record["aws"]["bucket"], demo.record["model_id"]
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"reports/{model_id}/modelmon-demo/")
    violations = [
        json.loads(s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read())["violations"]
        for o in listed.get("Contents", [])
        if o["Key"].endswith("/model-quality/constraint_violations.json")
    ]
    assert any(v["metric_name"] == "accuracy" for found in violations for v in found)


def test_model_v2_raises_exactly_the_bias_alarm_and_it_resolves(demo: DemoOutcome) -> None:
    assert _alarms(demo.detector_alerts, "bias_drift_check") == BIAS_ALARMS
    assert _alarms(demo.notifications, "bias_drift_check") == BIAS_ALARMS
    incident, recovered = demo.phase("incident"), demo.phase("recovered")
    states = [
        (n["state"], n["received_at"])
        for n in sorted(demo.notifications, key=lambda n: n["received_at"])
        if n["check_type"] == "bias_drift_check"
    ]
    assert states[0][0] == "ALARM" and states[0][1] >= incident["started_at"]
    assert states[-1][0] == "OK" and states[-1][1] >= recovered["started_at"]
    from modelmon.adapters.aws import boto_client

    s3 = boto_client(Settings().aws, "s3")
    bucket, model_id = demo.record["aws"]["bucket"], demo.record["model_id"]
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"reports/{model_id}/modelmon-demo/")
    keys = [o["Key"] for o in listed.get("Contents", []) if "/model-bias/" in o["Key"]]
    violated = {
        (v["facet"], v["facet_value"], v["metric_name"])
        for key in keys
        if key.endswith("/constraint_violations.json")
        for v in json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())["violations"]
    }
    assert violated == {("sex", "female", "DPPL")}
    assert any(k.endswith("/model-bias/report.html") for k in keys)


def test_drift_is_notified_within_the_latency_bound(demo: DemoOutcome) -> None:
    incident_start = demo.phase("incident")["started_at"]
    for feature in DRIFTED:
        first = min(
            n["received_at"]
            for n in demo.notifications
            if n["check_type"] == "baseline_drift_check"
            and n["feature"] == feature
            and n["state"] == "ALARM"
        )
        assert first - incident_start <= LATENCY_BOUND_S, (feature, first - incident_start)


def test_every_alarm_is_resolved_after_the_return_to_normal(demo: DemoOutcome) -> None:
    recovered_start = demo.phase("recovered")["started_at"]
    alarmed = {(n["check_type"], n["feature"]) for n in demo.notifications if n["state"] == "ALARM"}
    resolved = {
        (n["check_type"], n["feature"])
        for n in demo.notifications
        if n["state"] == "OK" and n["received_at"] >= recovered_start
    }
    assert alarmed
    assert resolved == alarmed
    last = {}
    for n in sorted(demo.notifications, key=lambda n: n["received_at"]):
        last[(n["check_type"], n["feature"])] = n["state"]
    assert set(last.values()) == {"OK"}


def test_every_request_is_in_the_archive(demo: DemoOutcome) -> None:
    from modelmon.adapters.aws import boto_client

    s3 = boto_client(Settings().aws, "s3")
    bucket = demo.record["aws"]["bucket"]
    archived: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="capture/"):
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            if obj["Key"].endswith(".gz"):
                body = gzip.decompress(body)
            for line in body.decode().splitlines():
                archived.append(json.loads(line)["eventMetadata"]["inferenceId"])
    assert len(archived) == len(set(archived))
    assert set(archived) == demo.inference_ids


def test_reports_on_s3_name_the_violations(demo: DemoOutcome) -> None:
    from modelmon.adapters.aws import boto_client

    s3 = boto_client(Settings().aws, "s3")
    bucket, model_id = demo.record["aws"]["bucket"], demo.record["model_id"]
    prefix = f"reports/{model_id}/modelmon-demo/"
    keys = [
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for o in page.get("Contents", [])
        if "/model-quality/" not in o["Key"]  # the label join's: test_flipped_labels_...
        and "/model-bias/" not in o["Key"]  # the label join's: test_model_v2_raises_...
    ]
    windows = {k.rsplit("/", 1)[0] for k in keys}
    assert {f"{w}/{f}" for w in windows for f in REPORT_FILES} == set(keys)
    violated: set[tuple[str, str]] = set()
    for key in keys:
        if key.endswith("/constraint_violations.json"):
            doc = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
            violated |= {(v["constraint_check_type"], v["feature_name"]) for v in doc["violations"]}
    assert violated == {
        (a["check_type"], a["feature"])
        for a in demo.detector_alerts
        if a["state"] == "ALARM"
        and a["check_type"] not in ("model_quality_check", "bias_drift_check")
    }


def test_cloudwatch_holds_the_drift_metrics(demo: DemoOutcome) -> None:
    from modelmon.adapters.aws import boto_client
    from modelmon.config import CloudWatchRoute

    cw = boto_client(Settings().aws, "cloudwatch")
    model_id = demo.record["model_id"]
    pages = cw.get_paginator("list_metrics").paginate(Namespace=CloudWatchRoute().namespace)
    metrics = [
        m
        for page in pages
        for m in page["Metrics"]
        if any(d["Value"] == model_id for d in m["Dimensions"])
    ]
    names = {m["MetricName"] for m in metrics}
    assert {f"feature_baseline_drift_{f}" for f in DRIFTED} <= names
    for feature in DRIFTED:
        metric = next(m for m in metrics if m["MetricName"] == f"feature_baseline_drift_{feature}")
        stats = cw.get_metric_statistics(
            Namespace=metric["Namespace"],
            MetricName=metric["MetricName"],
            Dimensions=metric["Dimensions"],
            StartTime=demo.record["started_at"] - 60,
            EndTime=demo.phase("recovered")["ended_at"] + 120,
            Period=60,
            Statistics=["Maximum"],
        )
        assert max(p["Maximum"] for p in stats["Datapoints"]) > 0.1


def test_sns_subscriber_got_the_alerts(demo: DemoOutcome) -> None:
    messages = [json.loads(m["Message"]) for m in demo.sqs_messages]
    got = {(m["check_type"], m["feature"], m["state"]) for m in messages}
    sent = {(n["check_type"], n["feature"], n["state"]) for n in demo.notifications}
    assert got == sent
    assert {("baseline_drift_check", f, "ALARM") for f in DRIFTED} <= got


def _epoch(stamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
