"""``modelmon report`` against the registry (Redis) and window files in S3 (the emulator)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import modelmon as mm
from modelmon.checks import Baseline
from modelmon.cli import cli
from modelmon.config import ModelConfig
from modelmon.keys import Keys, WindowRef
from modelmon.profile import DatasetProfile, ProfileTracker
from modelmon.registry import Registry, read_baseline_dir
from modelmon.streaming import detection
from modelmon.streaming.window_report import window_files

T0, SIZE = 1_767_225_600_000, 10_000


def _baseline() -> Baseline:
    rng = np.random.default_rng(0)
    return mm.baseline(pd.DataFrame({"x": rng.normal(0, 1, 900)}))


def _profile(n: int, shift: float, seed: int) -> DatasetProfile:
    tracker = ProfileTracker()
    tracker.update({"x": np.random.default_rng(seed).normal(shift, 1, n)})
    return tracker.snapshot()


def test_report_reads_s3_and_the_registry(
    redis_client: Any, redis_prefix: str, s3_bucket: str, boto_client: Callable[[str], Any],
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("MODELMON_REDIS__KEY_PREFIX", redis_prefix)
    config = ModelConfig(model_id="churn", endpoint_name="churn-prod")
    base = _baseline()
    base.save(tmp_path / "baseline")
    registry = Registry(redis_client, Keys(redis_prefix))
    registry.register(config)
    registry.push_baseline("churn", read_baseline_dir(tmp_path / "baseline"), "test")
    s3 = boto_client("s3")
    for i, shift in enumerate([0.0, 4.0]):
        view = detection.single(WindowRef("churn", SIZE, T0 + i * SIZE), _profile(200, shift, i), 0)
        found = detection.detect(view, config, base, datetime.now(UTC), None)
        prefix = "monitoring/" + detection.report_path(config, view, SIZE)
        for name, text in window_files(view, found, base, config).items():
            s3.put_object(Bucket=s3_bucket, Key=prefix + name, Body=text.encode())
    out = tmp_path / "r.html"
    result = CliRunner().invoke(cli, [
        "report", "--model", "churn", "--window", "2026-01-01T00:00:10Z",
        "--from", f"s3://{s3_bucket}/monitoring", "--out", str(out),
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "1 window(s), 200 events" in result.output
    assert "baseline_drift_check" in out.read_text()  # checked against the registry's baseline
