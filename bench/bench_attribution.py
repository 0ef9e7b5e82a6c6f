"""Attribution benchmark: the detector's per-window feature-attribution evaluation.

Per window: deserialize and merge the attribution partials of P partitions (F features, one
label), compute the global SHAP values, the NDCG against the baseline, the violations, the
report files and the CloudWatch datums (``modelmon.attribution.evaluate``). Reference: the
same NDCG with scikit-learn's ``ndcg_score`` alone. Also the aggregator's side: folding a
5,000-message batch's attributions into a partition's partials (decode of the
``attributions`` field included). Medians of interleaved rounds.

Usage: .venv/bin/python bench/bench_attribution.py [--features 50] [--partitions 6] [--rounds 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime

import numpy as np
import orjson
from sklearn.metrics import ndcg_score

from modelmon.attribution.evaluate import (
    AttributionSettings,
    cloudwatch_data,
    evaluate_attributions,
    report_files,
)
from modelmon.attribution.html import attribution_section
from modelmon.attribution.state import AttributionState, merged
from modelmon.keys import WindowRef
from modelmon.streaming.attributions import PartitionAttributions
from modelmon.streaming.decode import decode_batch
from modelmon.streaming.partition import ModelPlan
from modelmon.windows import NO_WATERMARK, WindowSpec
from summary import headline

T0 = 1_767_225_600_000


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def partials(features: int, partitions: int, events: int) -> tuple[list[bytes], dict[str, float]]:
    rng = np.random.default_rng(1)
    weights = rng.exponential(1.0, features)
    names = [f"f{i:03d}" for i in range(features)]
    blobs = []
    for _ in range(partitions):
        state = AttributionState()
        values = rng.normal(size=(events, features)) * weights
        state.add_columns("label0", {n: values[:, i] for i, n in enumerate(names)})
        blobs.append(state.serialize())
    baseline = {n: float(w) * 0.8 for n, w in zip(names, weights, strict=True)}
    return blobs, baseline


def evaluate_window(blobs: list[bytes], settings: AttributionSettings, html: bool = False) -> float:
    began = time.perf_counter()
    state = merged(AttributionState.deserialize(b) for b in blobs)
    evaluation = evaluate_attributions("m", (T0, T0 + 60_000), state, settings)
    report_files(evaluation)
    cloudwatch_data(evaluation, "m", "modelmon")
    if html:  # the sketches are merged only here (quantiles per feature)
        attribution_section(evaluation, state)
    return time.perf_counter() - began


def sklearn_ndcg(baseline: dict[str, float], live: dict[str, float]) -> float:
    began = time.perf_counter()
    names = sorted(baseline)
    ndcg_score(np.array([[baseline[n] for n in names]]), np.array([[live[n] for n in names]]))
    return time.perf_counter() - began


def fold_batch(features: int, n: int = 5000, attributed: bool = True) -> float:
    rng = np.random.default_rng(2)
    names = [f"f{i:03d}" for i in range(features)]
    when = datetime.fromtimestamp(T0 / 1000, UTC).isoformat()
    values = [
        orjson.dumps(
            {
                "model_id": "m",
                "event_time": when,
                "inputs": {"x": 1.0},
                **(
                    {
                        "attributions": dict(
                            zip(names, rng.normal(size=features).tolist(), strict=True)
                        )
                    }
                    if attributed
                    else {}
                ),
            }
        )
        for _ in range(n)
    ]
    batch, _ = decode_batch(values)
    plans = {"m": ModelPlan(WindowSpec(60_000, 0, 5_000))}
    tracker = PartitionAttributions(None)
    began = time.perf_counter()
    tracker.add(values, list(range(n)), batch, plans, {"m": "label0"}, lambda _: NO_WATERMARK)
    elapsed = time.perf_counter() - began
    assert (tracker.state(WindowRef("m", 60_000, T0)) is not None) == attributed
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--events", type=int, default=2000, help="per partition and window")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    blobs, baseline_values = partials(args.features, args.partitions, args.events)
    doc = {
        "version": "1.0",
        "explanations": {"kernel_shap": {"label0": {"global_shap_values": baseline_values}}},
    }
    settings = AttributionSettings(doc)
    live = merged(AttributionState.deserialize(b) for b in blobs).global_shap("label0")
    ours, peer, fold, page, plain = [], [], [], [], []
    for r in range(args.rounds):
        ours.append(evaluate_window(blobs, settings))
        page.append(evaluate_window(blobs, settings, html=True))
        peer.append(sklearn_ndcg(baseline_values, live))
        fold.append(fold_batch(args.features))
        plain.append(fold_batch(args.features, attributed=False))
        log(
            f"round {r + 1}: window {ours[-1] * 1000:.2f} ms, sklearn ndcg {peer[-1] * 1000:.2f} ms"
        )
    window_ms, sk_ms, fold_s, page_ms, plain_ms = (
        statistics.median(x) * 1000 for x in (ours, peer, fold, page, plain)
    )
    print("## Feature attribution (bench_attribution.py)\n")
    print(
        f"{args.features} features, {args.partitions} partitions × {args.events:,} events per "
        f"window; median of {args.rounds} interleaved rounds.\n"
    )
    print("| what | ms |")
    print("|---|---|")
    print(
        f"| one window: merge {args.partitions} partials + global SHAP + NDCG + violations + "
        f"files + CloudWatch datums | {window_ms:.2f} |"
    )
    print(f"| the same + the report's attribution section (sketches merged) | {page_ms:.2f} |")
    print(f"| scikit-learn `ndcg_score` alone (same rankings) | {sk_ms:.2f} |")
    print(
        f"| aggregator: fold a 5,000-message batch's attributions ({args.features} each) | "
        f"{fold_s:.1f} ({5000 / fold_s * 1000:,.0f} events/s) |"
    )
    print(
        "| aggregator: the hook on a 5,000-message batch of an explained model, none attributed "
        f"(the usual path) | {plain_ms:.2f} |\n"
    )
    headline(
        "attribution",
        f"NDCG window evaluation, {args.features} features × {args.partitions} partitions",
        f"{window_ms:.2f} ms per window",
        f"sklearn ndcg_score alone {sk_ms:.2f} ms",
        "",
        "",
        None,
    )


if __name__ == "__main__":
    main()
