"""The model registry in Redis, through the CLI, and live reloads."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from modelmon.keys import Keys
from modelmon.registry import ModelCatalog, Registry

from .test_aggregator_support import MODELMON


def _cli(prefix: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"MODELMON_REDIS__KEY_PREFIX": prefix}
    return subprocess.run(
        [MODELMON, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_register_list_show_and_push_through_the_cli(
    redis_client: Any, redis_prefix: str, tmp_path: Path
) -> None:
    config = tmp_path / "model.yaml"
    config.write_text(
        "model_id: churn\nwindow: {size_seconds: 60, allowed_lateness_seconds: 5}\n"
        "features: [{name: age, kind: numeric}]\n"
    )
    done = _cli(redis_prefix, "model", "register", "--config", str(config))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("registered churn (registry version 1)")

    listed = _cli(redis_prefix, "model", "list")
    assert listed.returncode == 0 and listed.stdout.startswith("churn ")
    assert "window=60s lateness=5s features=1 baseline=no v1" in listed.stdout

    shown = _cli(redis_prefix, "model", "show", "churn")
    assert '"size_seconds": 60' in shown.stdout

    reference = Path(__file__).resolve().parents[1] / "fixtures/sagemaker_reference"
    baseline_dir = tmp_path / "sm"
    baseline_dir.mkdir()
    (baseline_dir / "constraints.json").write_bytes(
        (reference / "churn_baseline_constraints.json").read_bytes()
    )
    pushed = _cli(redis_prefix, "baseline", "push", "--model", "churn", str(baseline_dir))
    assert pushed.returncode == 2 and "statistics.json" in pushed.stderr

    _save_baseline(baseline_dir)
    pushed = _cli(redis_prefix, "baseline", "push", "--model", "churn", str(baseline_dir))
    assert pushed.returncode == 0, pushed.stderr
    assert (
        "stored baseline of churn (constraints.json, profile.bin, statistics.json" in pushed.stdout
    )
    files = Registry(redis_client, Keys(redis_prefix)).baseline_files("churn")
    assert files is not None and files["profile.bin"] == (baseline_dir / "profile.bin").read_bytes()

    missing = _cli(redis_prefix, "model", "show", "nope")
    assert missing.returncode == 1 and "not registered" in missing.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("model_id: m\nwindow: {size_seconds: 0}\n")
    refused = _cli(redis_prefix, "model", "register", "--config", str(bad))
    assert refused.returncode == 2 and "size_seconds" in refused.stderr


def _save_baseline(directory: Path) -> None:
    from modelmon.checks import Baseline
    from modelmon.profile import ProfileTracker
    from modelmon.sagemaker.build import build_statistics, suggest_constraints

    tracker = ProfileTracker({"age": "numeric"})
    tracker.update({"age": [30.0, 40.0, 50.0]})
    profile = tracker.snapshot()
    statistics = build_statistics(profile)
    Baseline(statistics, suggest_constraints(statistics), profile).save(directory)


def test_a_catalog_reloads_when_the_registry_changes(redis_client: Any, redis_prefix: str) -> None:
    from modelmon.config import ModelConfig

    registry = Registry(redis_client, Keys(redis_prefix))
    catalog = ModelCatalog(registry, poll_seconds=0.0)
    assert catalog.refresh() and catalog.models == {}
    registry.register(ModelConfig(model_id="a"))
    assert catalog.refresh()
    assert catalog.config("a") == ModelConfig(model_id="a")
    assert not catalog.refresh()  # nothing changed: one GET, no reload
    registry.register(ModelConfig.model_validate({"model_id": "a", "window": {"size_seconds": 5}}))
    assert catalog.refresh()
    config = catalog.config("a")
    assert config is not None and config.window.size_seconds == 5
    assert catalog.models["a"].version == 2 and registry.version() == 2
    registry.push_baseline("a", {"statistics.json": b"{}"}, "test")
    assert catalog.refresh() and catalog.models["a"].has_baseline
    assert registry.baseline_files("a") == {"statistics.json": b"{}"}
