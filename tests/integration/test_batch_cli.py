"""``baseline create`` and ``monitor`` reading ``s3://`` prefixes on the AWS emulator."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from click.testing import CliRunner

from modelmon.cli import cli

REF = Path(__file__).parents[1] / "fixtures" / "batch" / "sagemaker"


def _csv(n: int, seed: int, shift: float = 0.0) -> bytes:
    rng = np.random.default_rng(seed)
    rows = ["x,y,kind"] + [
        f"{rng.normal(shift, 1):.4f},{int(rng.integers(0, 9))},{rng.choice(['a', 'b', 'c'])}"
        for _ in range(n)
    ]
    return ("\n".join(rows) + "\n").encode()


def _capture_lines(n: int, seed: int, hour: int, shift: float = 0.0) -> bytes:
    rng = np.random.default_rng(seed)
    lines = []
    for i in range(n):
        data = f"{rng.normal(shift, 1):.4f},{int(rng.integers(0, 9))},{rng.choice(['a', 'b', 'c'])}"
        when = f"2026-02-01T{hour:02d}:{i % 60:02d}:00Z"
        payload = {"observedContentType": "text/csv", "mode": "INPUT", "data": data,
                   "encoding": "CSV"}  # fmt: skip
        lines.append(json.dumps({
            "captureData": {"endpointInput": payload},
            "eventMetadata": {"eventId": f"e{i}", "inferenceTime": when},
            "eventVersion": "0",
        }))  # fmt: skip
    return gzip.compress(("\n".join(lines) + "\n").encode())


def test_baseline_and_monitor_from_s3(
    boto_client: Callable[[str], Any], s3_bucket: str, tmp_path: Path
) -> None:
    s3 = boto_client("s3")
    s3.put_object(Bucket=s3_bucket, Key="train/part-0.csv", Body=_csv(1500, seed=1))
    s3.put_object(Bucket=s3_bucket, Key="train/part-1.csv", Body=_csv(1500, seed=2))
    prefix = "capture/ep/AllTraffic/2026/02/01"
    s3.put_object(Bucket=s3_bucket, Key=f"{prefix}/00/a.jsonl.gz", Body=_capture_lines(400, 3, 0))
    s3.put_object(Bucket=s3_bucket, Key=f"{prefix}/01/b.jsonl.gz",
                  Body=_capture_lines(400, 4, 1, shift=2.0))  # fmt: skip
    s3.put_object(Bucket=s3_bucket, Key=f"{prefix}/01/README.txt", Body=b"not data")

    runner = CliRunner()
    base = tmp_path / "baseline"
    made = runner.invoke(cli, ["baseline", "create", "--data", f"s3://{s3_bucket}/train/",
                               "--out", str(base)])  # fmt: skip
    assert made.exit_code == 0, made.output
    stats = json.loads((base / "statistics.json").read_text())
    assert stats["dataset"]["item_count"] == 3000

    capture = f"s3://{s3_bucket}/capture/"
    monitor = ["monitor", "--baseline", str(base), "--data", capture]
    first_hour = runner.invoke(cli, [*monitor, "--out", str(tmp_path / "h0"),
                                     "--end", "2026-02-01T01:00:00Z"])  # fmt: skip
    assert first_hour.exit_code == 0, first_hour.output
    assert "0 violation(s) in 400 rows" in first_hour.stdout
    assert "read 400 rows from 2 file(s), 400 record(s) outside --start/--end" in first_hour.stderr

    second_hour = runner.invoke(cli, [*monitor, "--out", str(tmp_path / "h1"),
                                      "--start", "2026-02-01T01:00:00Z"])  # fmt: skip
    assert second_hour.exit_code == 1, second_hour.output
    doc = json.loads((tmp_path / "h1" / "constraint_violations.json").read_text())
    assert [(v["feature_name"], v["constraint_check_type"]) for v in doc["violations"]] == [
        ("x", "baseline_drift_check")
    ]


def test_missing_bucket_is_a_clear_error(s3_bucket: str, tmp_path: Path) -> None:
    base = tmp_path / "b"
    base.mkdir()
    for name in ("statistics.json", "constraints.json"):
        (base / name).write_bytes((REF / f"data_quality_{name}").read_bytes())
    monitor = ["monitor", "--baseline", str(base), "--out", str(tmp_path / "o"), "--data"]
    result = CliRunner().invoke(cli, [*monitor, f"s3://{s3_bucket}-nope/x/"])
    assert result.exit_code == 2
    assert f"s3://{s3_bucket}-nope/x/: cannot list objects (NoSuchBucket)" in result.stderr
    empty = CliRunner().invoke(cli, [*monitor, f"s3://{s3_bucket}/nothing/"])
    assert empty.exit_code == 2
    assert "no data files found" in empty.stderr


def test_baseline_and_results_on_s3(
    boto_client: Callable[[str], Any], s3_bucket: str, tmp_path: Path
) -> None:
    s3 = boto_client("s3")
    s3.put_object(Bucket=s3_bucket, Key="train/part-0.csv", Body=_csv(2000, seed=1))
    s3.put_object(Bucket=s3_bucket, Key="today/part-0.csv", Body=_csv(500, seed=2, shift=1.5))
    runner = CliRunner()
    base = f"s3://{s3_bucket}/baseline/"
    made = runner.invoke(cli, ["baseline", "create", "--data", f"s3://{s3_bucket}/train/",
                               "--out", base, "-q"])  # fmt: skip
    assert made.exit_code == 0, made.output
    listed = s3.list_objects_v2(Bucket=s3_bucket, Prefix="baseline/")["Contents"]
    assert sorted(o["Key"] for o in listed) == [
        "baseline/constraints.json", "baseline/profile.bin", "baseline/statistics.json",
    ]  # fmt: skip
    result = runner.invoke(cli, ["monitor", "--baseline", base, "--data",
                                 f"s3://{s3_bucket}/today/", "--out",
                                 f"s3://{s3_bucket}/reports/2026/03/01/00", "-q"])  # fmt: skip
    assert result.exit_code == 1, result.output
    body = s3.get_object(Bucket=s3_bucket, Key="reports/2026/03/01/00/constraint_violations.json")
    doc = json.loads(body["Body"].read())
    assert [(v["feature_name"], v["constraint_check_type"]) for v in doc["violations"]] == [
        ("x", "baseline_drift_check")
    ]
    page = s3.get_object(Bucket=s3_bucket, Key="reports/2026/03/01/00/report.html")
    assert b"<div class=plot " in page["Body"].read()
    today = f"s3://{s3_bucket}/today/"
    missing = runner.invoke(cli, ["monitor", "--baseline", f"s3://{s3_bucket}/nothing/",
                                  "--data", today, "--out", str(tmp_path)])  # fmt: skip
    assert missing.exit_code == 2
    assert "holds no statistics.json or constraints.json" in missing.stderr
