"""The demo's attribution incident on the real stack (``modelmon demo run --scenario attribution``).

About two minutes: 5-second windows, 30 requests/s, normal -> shortcut -> recovered. In the
shortcut phase the model leans on ``num_products`` (the demo's explainable scorer gets a large
weight there) while every input is drawn from the training distribution as before. Asserted:
``feature_attribution_drift_check`` fires in the shortcut phase and not before it, no data
check (drift, categories, completeness, types) fires at all, the alarm clears after the return
to normal, and each window's explainability reports are on S3 in SageMaker's layout.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from modelmon.settings import Settings

from .test_demo_e2e import _env, _epoch, _jsonl

WINDOW_S = 5
RATE = 30.0
DURATION_S = 45.0  # 15 s normal, 15 s shortcut, 15 s recovered
CHECK = "feature_attribution_drift_check"
pytestmark = pytest.mark.timeout(720)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, kafka_admin: Any) -> Iterator[dict[str, Any]]:
    from modelmon.adapters.aws import boto_client
    from modelmon.adapters.redis import make_redis

    settings = Settings()
    name = f"e2e-attr-{uuid.uuid4().hex[:8]}"
    runs_dir = tmp_path_factory.mktemp("demo-attr")
    argv = [
        sys.executable,
        "-c",
        "from modelmon.cli import main; main()",
        "demo",
        "run",
        "--no-stack",
        "--namespace",
        name,
        "--model-id",
        name,
        "--bucket",
        name,
        "--scenario",
        "attribution",
        "--window",
        str(WINDOW_S),
        "--rate",
        str(RATE),
        "--duration",
        str(DURATION_S),
        "--drain",
        "20",
        "--runs-dir",
        str(runs_dir),
        "--exit-when-done",
    ]
    try:
        done = subprocess.run(argv, env=_env(), capture_output=True, text=True, timeout=600)
        run_dir = next(runs_dir.iterdir())
        yield {
            "returncode": done.returncode,
            "output": done.stdout + done.stderr,
            "record": json.loads((run_dir / "run.json").read_text()),
            "alerts": [
                a for a in _jsonl(run_dir / "alerts-topic.jsonl") if a.get("type") == "alert"
            ],
            "name": name,
        }
    finally:
        s3 = boto_client(settings.aws, "s3")
        with contextlib.suppress(s3.exceptions.NoSuchBucket):
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
                objects = [{"Key": o["Key"]} for o in page.get("Contents", [])]
                if objects:
                    s3.delete_objects(Bucket=name, Delete={"Objects": objects})
            s3.delete_bucket(Bucket=name)
        kinds = ("capture", "alerts", "deadletter", "labels", "attributions")
        existing = set(kafka_admin.list_topics(timeout=10).topics)
        doomed = [t for t in (f"{name}.{k}.v1" for k in kinds) if t in existing]
        if doomed:
            for future in kafka_admin.delete_topics(doomed, operation_timeout=30).values():
                future.result(30)
        redis = make_redis(settings.redis)
        keys = list(redis.scan_iter(match=f"{name}*", count=1000))
        if keys:
            redis.delete(*keys)
        redis.close()


def _phase(run: dict[str, Any], name: str) -> dict[str, Any]:
    return next(p for p in run["record"]["phases"] if p["name"] == name)


def test_the_demo_ran_with_the_attributions_aggregator(run: dict[str, Any]) -> None:
    assert run["returncode"] == 0, run["output"][-3000:]
    assert run["record"]["services"].get("aggregator-attributions") == "running"


def test_the_shortcut_raises_the_attribution_alarm_and_no_data_check(run: dict[str, Any]) -> None:
    start = _phase(run, "shortcut")["started_at"]
    ended = _phase(run, "shortcut")["ended_at"]
    attribution = [a for a in run["alerts"] if a["check_type"] == CHECK]
    alarms = [a for a in attribution if a["state"] == "ALARM"]
    assert alarms, run["output"][-3000:]
    assert all(_epoch(a["window_end"]) > start for a in alarms)  # nothing before the incident
    assert all(_epoch(a["window_start"]) < ended for a in alarms)
    assert all(a["value"] < a["threshold"] == 0.9 for a in alarms)
    oks = [a for a in attribution if a["state"] == "OK" and _epoch(a["window_end"]) <= start]
    assert oks  # the normal phase was evaluated, and met the baseline ranking
    others = [a for a in run["alerts"] if a["state"] == "ALARM" and a["check_type"] != CHECK]
    assert others == []  # the inputs never moved: no data (or quality) check fires
    last = max(attribution, key=lambda a: a["window_start"])
    assert last["state"] == "OK"  # back to the baseline ranking after the incident


def test_explainability_reports_are_on_s3(run: dict[str, Any]) -> None:
    from modelmon.adapters.aws import boto_client

    s3 = boto_client(Settings().aws, "s3")
    name = run["name"]
    keys = [
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name, Prefix="reports/")
        for o in page.get("Contents", [])
        if "/model-explainability/" in o["Key"]
    ]
    assert {k.rsplit("/", 1)[1] for k in keys} == {
        "analysis.json",
        "constraint_violations.json",
        "report.html",
    }
    found = [
        v
        for k in keys
        if k.endswith("constraint_violations.json")
        for v in json.loads(s3.get_object(Bucket=name, Key=k)["Body"].read())["violations"]
    ]
    assert found and {v["constraint_check_type"] for v in found} == {CHECK}
