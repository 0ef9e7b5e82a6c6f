"""Bias benchmark: Clarify's bias metrics for 10 facet values over 1M joined pairs.

modelmon: the joined pairs are counted into the mergeable state (as the label-join service
would, per batch; the state of a window is what Redis keeps), then every post-training metric
is computed for each facet value, one-vs-rest as Clarify does. fairlearn: one ``MetricFrame``
over the 10 facet values on the raw rows (selection rate, TPR, FPR, accuracy, counts); the
rest's rates are the other values' rates weighted by fairlearn's counts. The figures both give
(DPPL, RD, SD = FPR difference, AD) must agree to 1e-12; times are medians of interleaved
rounds (modelmon, fairlearn, modelmon, ...). fairlearn 0.15 converts every row with
``np.stack`` per metric and group, so it is slow at this size: 10 binary MetricFrames (the
literal one-vs-rest) took 182 s for 200k rows here, and are not run.

Usage: .venv/bin/python bench/bench_bias.py [--rows 1000000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from fairlearn.metrics import (
    MetricFrame,
    count,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import accuracy_score

from modelmon.bias.config import BiasConfig
from modelmon.bias.report import FacetValueReport, facet_reports
from modelmon.bias.state import BiasState, state_from_columns
from summary import headline

ROOT = Path(__file__).resolve().parent.parent
SMCLARIFY = ROOT / ".venvs" / "smclarify" / "bin" / "python"
VALUES = [f"v{i}" for i in range(10)]
BATCH = 100_000
CONFIG = BiasConfig.model_validate(
    {
        "label": "label",
        "label_values_or_threshold": [1],
        "facet": [{"name_or_index": "facet"}],
        "group_variable": "group",
        "predicted_label": "prediction",
    }
)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def make_rows(n: int, seed: int = 13) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    facet = rng.choice(np.array(VALUES), n, p=np.linspace(1, 3, 10) / np.linspace(1, 3, 10).sum())
    rate = 0.3 + 0.04 * np.char.str_len(facet)  # a little structure, deterministic
    label = (rng.random(n) < 0.4).astype(np.int64)
    prediction = (rng.random(n) < np.where(label == 1, 0.7, rate - 0.2)).astype(np.int64)
    return {
        "facet": facet,
        "group": rng.integers(0, 5, n),
        "label": label,
        "prediction": prediction,
    }


def modelmon_metrics(rows: dict[str, Any]) -> tuple[list[FacetValueReport], float]:
    """(reports, seconds spent on the metrics alone) after counting the rows in batches."""
    n = len(rows["label"])
    state = BiasState()
    for start in range(0, n, BATCH):
        batch = {k: v[start : start + BATCH] for k, v in rows.items()}
        state = state.merge(state_from_columns(CONFIG, batch, joined=True))
    blob = state.serialize()  # what a window keeps in Redis
    began = time.perf_counter()
    reports = facet_reports(CONFIG, BiasState.deserialize(blob), "post_training")
    return reports, time.perf_counter() - began


def positives(y_true: Any, y_pred: Any) -> float:
    return float(np.sum(y_true))


def fairlearn_metrics(rows: dict[str, Any]) -> dict[str, dict[str, float]]:
    """value -> {DPPL, RD, SD, AD} from one MetricFrame over the 10 facet values.

    fairlearn gives each value's rates; the rest's rate (Clarify compares one value with all
    others) is the others' rates weighted by fairlearn's own counts of their rows (selection
    rate, accuracy), positives (TPR) or negatives (FPR).
    """
    frame = MetricFrame(
        metrics={
            "sel": selection_rate,
            "tpr": true_positive_rate,
            "fpr": false_positive_rate,
            "acc": accuracy_score,
            "n": count,
            "pos": positives,
        },
        y_true=rows["label"],
        y_pred=rows["prediction"],
        sensitive_features=pd.Series(rows["facet"], name="facet"),
    )
    g = frame.by_group
    g["neg"] = g["n"] - g["pos"]
    out = {}
    for value in VALUES:
        rest = g.drop(index=value)

        def mean(metric: str, weight: str, rest: pd.DataFrame = rest) -> float:
            return float((rest[metric] * rest[weight]).sum() / rest[weight].sum())

        sens = g.loc[value]
        out[value] = {
            "DPPL": mean("sel", "n") - sens["sel"],
            "RD": mean("tpr", "pos") - sens["tpr"],
            "SD": mean("fpr", "neg") - sens["fpr"],
            "AD": mean("acc", "n") - sens["acc"],
        }
    return out


def max_difference(reports: list[FacetValueReport], peer: dict[str, dict[str, float]]) -> float:
    worst = 0.0
    for report in reports:
        for name, value in peer[report.value_or_threshold].items():
            ours = report.metric(name)
            assert ours is not None and ours.value is not None
            worst = max(worst, abs(ours.value - value))
    return worst


def smclarify_check(cases: int = 60) -> str:
    """modelmon vs SageMaker Clarify's own code (smclarify 0.5) on seeded random datasets."""
    if not SMCLARIFY.exists():
        return "smclarify peer not set up (bench/peers/setup_peers.sh smclarify): not compared"
    script = ROOT / "bench" / "peers" / "smclarify_bias.py"
    proc = subprocess.run(
        [str(SMCLARIFY), str(script), str(cases)], capture_output=True, text=True, check=True
    )
    config = BiasConfig.model_validate(
        {
            "label": "y",
            "label_values_or_threshold": [1],
            "facet": [{"name_or_index": "sex", "value_or_threshold": ["f"]}],
            "group_variable": "zip",
            "predicted_label": "p",
        }
    )
    worst, compared, mismatched = 0.0, 0, 0
    data = json.loads(proc.stdout)
    for case in data:
        state = state_from_columns(config, case["rows"], joined=True)
        for stage, expected in case["results"].items():
            (report,) = facet_reports(config, state, stage)
            for metric in report.metrics:
                theirs = expected.get(metric.name)
                if isinstance(theirs, str):
                    theirs = float(theirs.replace("Infinity", "inf"))
                if theirs is None or metric.value is None or math.isinf(theirs):
                    mismatched += theirs != metric.value
                    continue
                compared += 1
                worst = max(worst, abs(theirs - metric.value))
    return (
        f"smclarify 0.5 (Clarify's own code), {len(data)} random datasets: {compared} finite "
        f"values, max |diff| {worst:.1e}; nulls/infinities that differ: {mismatched}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    rows = make_rows(args.rows)
    ours_s, peer_s, metrics_s = [], [], []
    for r in range(args.rounds):
        began = time.perf_counter()
        reports, only_metrics = modelmon_metrics(rows)
        ours_s.append(time.perf_counter() - began)
        metrics_s.append(only_metrics)
        began = time.perf_counter()
        peer = fairlearn_metrics(rows)
        peer_s.append(time.perf_counter() - began)
        log(f"round {r + 1}: modelmon {ours_s[-1]:.2f} s, fairlearn {peer_s[-1]:.2f} s")
    diff = max_difference(reports, peer)
    ours, theirs, metrics = (statistics.median(x) for x in (ours_s, peer_s, metrics_s))
    print("## Bias metrics (bench_bias.py)\n")
    print(
        f"{args.rows:,} joined pairs, facet with 10 values (one-vs-rest each), 5 groups; "
        f"median of {args.rounds} interleaved rounds.\n"
    )
    print("| what | seconds |")
    print("|---|---|")
    print(f"| modelmon: count into the state ({BATCH:,}-row batches) + all 12 metrics | "
          f"{ours:.3f} |")  # fmt: skip
    print(f"| modelmon: all 12 metrics × 10 values from a stored window state | {metrics:.4f} |")
    print(
        f"| fairlearn: one MetricFrame (10 values, 4 metrics + counts), raw rows | {theirs:.3f} |"
    )
    print(
        f"\nmax |modelmon - fairlearn| over DPPL, RD, SD, AD × 10 values: {diff:.2e} "
        f"(same numbers: {diff <= 1e-12})\n"
    )
    check = smclarify_check()
    print(f"{check}\n")
    headline(
        "bias",
        f"12 bias metrics × 10 facet values, {args.rows // 1_000_000}M joined pairs",
        f"{ours:.2f} s (from state: {metrics * 1000:.0f} ms)",
        f"fairlearn MetricFrame {theirs:.2f} s (4 metrics)",
        f"{theirs / ours:.1f}x",
        "same numbers",
        diff <= 1e-12,
    )


if __name__ == "__main__":
    main()
