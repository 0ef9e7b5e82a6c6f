"""The demo's set-up steps, each through the documented ``modelmon`` command a user would type.

``baseline create`` -> ``model register`` -> ``baseline push``. A command that is not part of
this checkout yet is reported as missing (``Missing``), never imitated.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from modelmon.config import (
    AlertRoutes,
    BiasSection,
    CloudWatchRoute,
    ModelConfig,
    QualityConfig,
    WebhookRoute,
    WindowConfig,
)
from modelmon.errors import ModelmonError


class Missing(ModelmonError):
    """A command or service of modelmon is not available in this checkout yet."""


@dataclass(frozen=True)
class StepResult:
    """What one set-up command printed."""

    argv: list[str]
    output: str


def modelmon_argv(*args: str) -> list[str]:
    """``python -m``-free invocation of the console script's entry point in this interpreter."""
    return [sys.executable, "-c", "from modelmon.cli import main; main()", *args]


def module_available(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def require_command(module: str, what: str) -> None:
    if not module_available(module):
        raise Missing(f"{what} is not available yet ({module} is not in this checkout)")


def run_step(args: list[str], env: dict[str, str], log: Path, timeout: float = 300) -> StepResult:
    """Run ``modelmon <args>``; its output goes to ``log`` too. Raises on a non-zero exit."""
    argv = modelmon_argv(*args)
    done = subprocess.run(
        argv, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    output = (done.stdout + done.stderr).strip()
    with log.open("a") as handle:
        handle.write(f"$ modelmon {' '.join(args)}\n{output}\n(exit {done.returncode})\n")
    if done.returncode != 0:
        raise ModelmonError(f"`modelmon {' '.join(args)}` failed ({done.returncode}):\n{output}")
    return StepResult(argv, output)


def model_config(
    model_id: str,
    window_s: int,
    webhook_url: str,
    sns_topic_arn: str | None,
    min_labels: int = 100,
    bias: BiasSection | None = None,
) -> ModelConfig:
    """Short windows, SageMaker's default checks and thresholds, alerts to SNS and a webhook."""
    return ModelConfig(
        model_id=model_id,
        description="modelmon demo: loan default classifier (scikit-learn)",
        window=WindowConfig(
            size_seconds=window_s,
            allowed_lateness_seconds=max(1, window_s // 5),
            idle_timeout_seconds=max(2, window_s // 2),
        ),
        alerts=AlertRoutes(
            sns_topic_arn=sns_topic_arn,
            webhooks=[WebhookRoute(url=webhook_url, format="json", allow_http=True)],
            cloudwatch=CloudWatchRoute(schedule_name="modelmon-demo"),
        ),
        schedule_name="modelmon-demo",
        quality=QualityConfig(
            problem_type="BinaryClassification",
            label_horizon_seconds=max(60, 4 * window_s),
            min_labels=min_labels,
            constraints=DEMO_QUALITY_CONSTRAINTS,
        ),
        bias=bias,
    )


#: The demo model scores ~0.79 accuracy on held-out data; the incident flips 45% of the labels
#: (accuracy ~0.53). SageMaker would suggest the baseline values themselves as thresholds; the
#: demo leaves room for a window's noise (with >= 100 labels, 0.65 is ~4 sd from either).
DEMO_QUALITY_CONSTRAINTS = {
    "version": 0.0,
    "binary_classification_constraints": {
        "accuracy": {"threshold": 0.65, "comparison_operator": "LessThanThreshold"},
        "auc": {"threshold": 0.65, "comparison_operator": "LessThanThreshold"},
    },
}


def write_model_yaml(config: ModelConfig, path: Path) -> Path:
    doc: dict[str, Any] = config.model_dump(mode="json", exclude_none=True)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def create_and_push_baseline(
    data: Path, out: Path, config_file: Path, model_id: str, env: dict[str, str], log: Path
) -> list[str]:
    """``baseline create`` then ``model register`` then ``baseline push``; returns their lines."""
    require_command("modelmon.cli.baseline", "`modelmon baseline create`")
    lines = [run_step(["baseline", "create", "--data", str(data), "--out", str(out)], env, log)]
    require_command("modelmon.cli.model", "`modelmon model register`")
    lines.append(run_step(["model", "register", "--config", str(config_file)], env, log))
    lines.append(run_step(["baseline", "push", "--model", model_id, str(out)], env, log))
    return [r.output.splitlines()[0] if r.output else "" for r in lines]


#: Clarify's analysis config of the demo: does the model predict defaults (label 1) for women
#: more often than for men? Only DPPL is checked (it needs predictions alone, and the label
#: noise of the incident moves the label-based metrics too); the pre-training metrics of the
#: window's labels are reported beside it.
DEMO_BIAS_CONFIG: dict[str, Any] = {
    "label": "defaulted",
    "label_values_or_threshold": [1],
    "predicted_label": "prediction",
    "facet": [{"name_or_index": "sex", "value_or_threshold": ["female"]}],
    "methods": {
        "pre_training_bias": {"methods": "all"},
        "post_training_bias": {"methods": ["DPPL"]},
    },
}
#: ~100 rows per group in a 5 s window at 40 requests/s: DPPL's sd is ~0.06 (0.08 at the first
#: evaluation, 120 labels) around a baseline near 0, so SageMaker's point rule (|DPPL| >
#: |baseline|) would fire on most quiet windows. The interval rule at 99.99% (z = 3.89) needs
#: |DPPL| > ~0.25-0.3: v2 moves DPPL to ~-0.5, normal traffic stays under ~0.2 (measured).
DEMO_BIAS_LEVEL = 0.9999


def create_bias_baseline(
    joined: Path, out: Path, env: dict[str, str], log: Path
) -> tuple[BiasSection, str]:
    """``baseline create --analysis bias`` on the joined training rows; the model config's
    bias section (its analysis.json as the baseline) and the command's first line."""
    import json

    out.mkdir(parents=True, exist_ok=True)
    config_file = out.parent / "analysis_config.json"
    config_file.write_text(json.dumps(DEMO_BIAS_CONFIG, indent=2))
    args = ["baseline", "create", "--analysis", "bias", "--data", str(joined)]
    result = run_step([*args, "--config", str(config_file), "--out", str(out)], env, log)
    section = BiasSection.model_validate(
        {
            "analysis_config": DEMO_BIAS_CONFIG,
            "baseline": json.loads((out / "analysis.json").read_text()),
            "confidence_level": DEMO_BIAS_LEVEL,
            "check": "interval",
        }
    )
    return section, (result.output.splitlines() or [""])[0]
