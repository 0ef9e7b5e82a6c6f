"""Statistics benchmark: profiling speed, drift-evaluation speed and accuracy vs exact, side by
side with whylogs and Evidently (each in its own virtualenv, see bench/peers/setup_peers.sh).

Prints markdown on stdout (bench/run_all.py collects it); progress goes to stderr.
Usage: .venv/bin/python bench/bench_statistics.py [--rows 1000000] [--current-rows 200000]
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import chdtri

from modelmon.drift import evaluate, get_method
from modelmon.drift.numeric import JS_ALPHA, bin_edges, js_divergence, psi_of
from modelmon.profile import DatasetProfile, ProfileTracker

sys.path.insert(0, str(Path(__file__).parent))
from statistics_data import generate, specs
from summary import headline

ROOT = Path(__file__).resolve().parent.parent
PEERS = ROOT / "bench" / "peers"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def columns_of(df: pd.DataFrame) -> dict[str, np.ndarray]:
    """The DataFrame's columns as numpy arrays (float64 and object), as whylogs receives them."""
    return {name: df[name].to_numpy() for name in df.columns}


def profile(columns: dict[str, np.ndarray], rows: int, batch: int) -> tuple[DatasetProfile, float]:
    kinds = {s.name: s.kind for s in specs()}
    tracker = ProfileTracker(kinds)  # type: ignore[arg-type]
    started = time.perf_counter()
    for start in range(0, rows, batch):
        tracker.update({name: col[start : start + batch] for name, col in columns.items()})
    snapshot = tracker.snapshot()
    return snapshot, time.perf_counter() - started


def compare(baseline_blob: bytes, current_blob: bytes) -> dict[str, dict[str, Any]]:
    """What a detector does per window: load two stored profiles, run every distance."""
    baseline = DatasetProfile.deserialize(baseline_blob)
    current = DatasetProfile.deserialize(current_blob)
    out: dict[str, dict[str, Any]] = {}
    for name, b in baseline.features.items():
        c = current.features[name]
        out[name] = evaluate(b, c)  # every method; aligned CDFs computed once per feature
    return out


def time_compare(baseline_blob: bytes, current_blob: bytes, repeats: int = 21) -> float:
    """Median of ``repeats`` runs (the fastest run is logged: the machine is shared)."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        compare(baseline_blob, current_blob)
        times.append(time.perf_counter() - started)
    log(f"compare: median {np.median(times) * 1e3:.1f} ms, fastest {min(times) * 1e3:.1f} ms")
    return float(np.median(times))


def exact_numeric(x: np.ndarray, y: np.ndarray, b: Any) -> dict[str, float]:
    """The exact value of every numeric distance on the raw data (PSI/JS on the same bins)."""
    edges = bin_edges(b, 10)
    sx, sy = np.sort(x), np.sort(y)

    def shares(s: np.ndarray) -> np.ndarray:
        cdf = np.searchsorted(s, edges, side="right") / len(s)
        return np.maximum(np.diff(np.concatenate(([0.0], cdf, [1.0]))), 1e-3)

    p, q = shares(sx), shares(sy)
    ks = float(stats.ks_2samp(x, y).statistic)
    margin = 1.8 * np.sqrt((len(x) + len(y)) / (len(x) * len(y)))
    jsd = max(js_divergence(p, q), 0.0)
    js_margin = float(chdtri(max(len(edges), 1), JS_ALPHA)) * (1 / len(x) + 1 / len(y))
    js_margin /= 8 * math.log(2)
    return {
        "linf_simple": ks,
        "linf_robust": max(0.0, ks - margin),
        "psi": psi_of(p, q),
        "jensen_shannon": float(np.sqrt(jsd)),
        "jensen_shannon_robust": math.sqrt(max(0.0, jsd - js_margin)),
        "wasserstein": float(stats.wasserstein_distance(x, y) / x.std()),
        "mean_shift": float(abs(y.mean() - x.mean()) / x.std()),
    }


def exact_categorical(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    kx, cx = np.unique(x.astype(str), return_counts=True)
    ky, cy = np.unique(y.astype(str), return_counts=True)
    fx = dict(zip(kx.tolist(), (cx / len(x)).tolist(), strict=True))
    fy = dict(zip(ky.tolist(), (cy / len(y)).tolist(), strict=True))
    linf = max(abs(fx.get(k, 0.0) - fy.get(k, 0.0)) for k in fx.keys() | fy.keys())
    margin = 1.8 * np.sqrt((len(x) + len(y)) / (len(x) * len(y)))
    rate = sum(v for k, v in fy.items() if k not in fx)
    unseen = float((cx == 1).sum()) / len(x)  # Good-Turing
    noise = 3 * math.sqrt(rate * (1 - rate) / len(y) + unseen * (1 - unseen) / len(x))
    return {
        "linf_categorical": linf,
        "linf_categorical_robust": max(0.0, linf - margin),
        "new_category_rate": rate,
        "new_category_excess": max(0.0, rate - unseen - noise),
    }


def accuracy(ref: pd.DataFrame, cur: pd.DataFrame, results: dict[str, dict[str, Any]],
             baseline: DatasetProfile) -> dict[str, list[float]]:  # fmt: skip
    errors: dict[str, list[float]] = {}
    for spec in specs():
        x, y = ref[spec.name].to_numpy(), cur[spec.name].to_numpy()
        if spec.kind == "numeric":
            exact = exact_numeric(x, y, baseline.features[spec.name])
        else:
            exact = exact_categorical(x, y)
        for method, value in exact.items():
            got = results[spec.name][method]
            errors.setdefault(method, []).append(abs(got.value - value))
            bound = math.inf if got.error_bound is None else got.error_bound
            errors.setdefault(method + ".bound", []).append(bound)
    return errors


def run_peer(peer: str, script: str, *args: Path) -> dict[str, Any] | str:
    """Run a peer script in its venv; a string says why it is unavailable."""
    python = ROOT / ".venvs" / peer / "bin" / "python"
    if not python.exists():
        setup = subprocess.run(
            [str(PEERS / "setup_peers.sh"), peer], capture_output=True, text=True
        )
        if not python.exists():
            return f"unavailable: could not create .venvs/{peer} ({setup.stderr.strip()[-200:]})"
    proc = subprocess.run([str(python), str(PEERS / script), *map(str, args)],
                          capture_output=True, text=True)  # fmt: skip
    if proc.returncode != 0:
        return f"unavailable: {peer} failed ({proc.stderr.strip().splitlines()[-1:]})"
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--current-rows", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--skip-peers", action="store_true")
    args = parser.parse_args()
    log(f"generating {args.rows:,} + {args.current_rows:,} rows ...")
    ref, cur = generate(args.rows, 1, False), generate(args.current_rows, 2, True)
    with tempfile.TemporaryDirectory(prefix="modelmon-bench-") as tmp:
        ref_path, cur_path = Path(tmp) / "reference.parquet", Path(tmp) / "current.parquet"
        ref.to_parquet(ref_path)
        cur.to_parquet(cur_path)
        # pandas 3 keeps strings in its str dtype; give both tools the data as read back
        ref, cur = pd.read_parquet(ref_path), pd.read_parquet(cur_path)
        log("modelmon: profiling ...")
        baseline, seconds = profile(columns_of(ref), len(ref), args.batch)
        current, _ = profile(columns_of(cur), len(cur), args.batch)
        blobs = baseline.serialize(), current.serialize()
        compare_s = time_compare(*blobs)
        log("modelmon: accuracy vs exact ...")
        errors = accuracy(ref, cur, compare(*blobs), baseline)
        peers: dict[str, Any] = {}
        if not args.skip_peers:
            log("whylogs: why.log ...")
            peers["whylogs"] = run_peer("whylogs", "whylogs_profile.py", ref_path)
            log("evidently: DataDriftPreset ...")
            peers["evidently"] = run_peer("evidently", "evidently_drift.py", ref_path, cur_path)
    report(args, len(ref), seconds, compare_s, blobs, errors, compare(*blobs), peers)


def _fmt_rate(x: float) -> str:
    return f"{x / 1e3:,.0f}k" if x < 1e6 else f"{x / 1e6:,.2f}M"


def report(
    args: argparse.Namespace,
    rows: int,
    seconds: float,
    compare_s: float,
    blobs: tuple[bytes, bytes],
    errors: dict[str, list[float]],
    results: dict[str, dict[str, Any]],
    peers: dict[str, Any],
) -> None:
    print("## Statistics: profiling and drift (bench_statistics.py)\n")
    print(
        f"Data: {rows:,} reference rows and {args.current_rows:,} drifted rows, 20 numeric + "
        f"5 categorical columns (Zipf, 5 … 50,000 values); modelmon fed {args.batch:,}-row "
        "batches of the same pandas columns whylogs receives.\n"
    )
    print("| what | modelmon | peer | ratio | target |")
    print("|---|---|---|---|---|")
    print(_profile_row(rows / seconds, peers.get("whylogs")))
    print(_compare_row(compare_s, peers.get("evidently"), sum(len(r) for r in results.values())))
    _headlines(rows / seconds, compare_s, peers, errors)
    size = f"{len(blobs[0]) / 1024:,.0f} KB / {len(blobs[1]) / 1024:,.0f} KB"
    print(f"| stored profile size (reference / current) | {size} | | | |\n")
    print(
        "Accuracy of modelmon's sketch-based distances against the exact value on the raw data "
        "(scipy / numpy), over every feature:\n"
    )
    print("| distance | max abs error | median abs error | max stated bound |")
    print("|---|---|---|---|")
    for method in [m for m in errors if not m.endswith(".bound")]:
        e, bound = np.array(errors[method]), max(errors[method + ".bound"])
        stated = "none" if math.isinf(bound) else f"{bound:.5f}"
        print(f"| {method} | {e.max():.5f} | {np.median(e):.5f} | {stated} |")
    print()
    ev = peers.get("evidently")
    verdicts(results, ev if isinstance(ev, dict) else None)


def _headlines(
    rate: float, compare_s: float, peers: dict[str, Any], errors: dict[str, list[float]]
) -> None:
    wl, ev = peers.get("whylogs"), peers.get("evidently")
    if isinstance(wl, dict):
        ratio = rate / wl["rows_per_s"]
        headline("statistics", "profile rows/s, 25 columns", _fmt_rate(rate),
                 f"whylogs {wl['version']}: {_fmt_rate(wl['rows_per_s'])}", f"{ratio:.1f}×",
                 "≥ 10× whylogs", ratio >= 10)  # fmt: skip
    else:
        headline("statistics", "profile rows/s, 25 columns", _fmt_rate(rate), f"whylogs {wl}")
    ref = f"Evidently {ev['version']}: {ev['seconds']:.0f} s" if isinstance(ev, dict) else ""
    ratio_ev = f"{ev['seconds'] / compare_s:,.0f}×" if isinstance(ev, dict) else ""
    headline("statistics", "drift: compare two stored profiles (25 features, all distances)",
             f"{compare_s * 1e3:.1f} ms", ref, ratio_ev, "< 50 ms", compare_s < 0.050)  # fmt: skip
    ks = max(errors["linf_simple"])
    headline("statistics", "KS / L-inf from sketches vs exact (scipy), max abs error",
             f"{ks:.4f}", "scipy ks_2samp", "", "≤ 0.01", ks <= 0.01)  # fmt: skip


def _profile_row(ours: float, wl: Any) -> str:
    if not isinstance(wl, dict):
        peer = f"whylogs {wl or 'skipped'}"
        return f"| profile rows/s (25 columns) | {_fmt_rate(ours)} | {peer} | – | ≥ 10× |"
    peer = f"whylogs {wl['version']} `why.log`: {_fmt_rate(wl['rows_per_s'])}"
    ratio = ours / wl["rows_per_s"]
    return f"| profile rows/s (25 columns) | {_fmt_rate(ours)} | {peer} | {ratio:.1f}× | ≥ 10× |"


def _compare_row(compare_s: float, ev: Any, n_distances: int) -> str:
    what = f"drift: compare 2 stored profiles, 25 features, all {n_distances} distances"
    ours = f"{compare_s * 1e3:.1f} ms"
    if not isinstance(ev, dict):
        return f"| {what} | {ours} | Evidently {ev or 'skipped'} | – | < 50 ms |"
    peer = f"Evidently {ev['version']} DataDriftPreset (raw data): {ev['seconds']:.1f} s"
    return f"| {what} | {ours} | {peer} | {ev['seconds'] / compare_s:,.0f}× | < 50 ms |"


def verdicts(results: dict[str, dict[str, Any]], ev: dict[str, Any] | None) -> None:
    print(
        "Drift verdicts. modelmon: SageMaker's defaults (linf_robust / linf_categorical_robust "
        "at 0.1), and which other modelmon methods cross their default thresholds; Evidently: "
        "the method its preset picks per column.\n"
    )
    print(
        "| feature | injected drift | modelmon | verdict | other modelmon methods flagging "
        "| Evidently method | score | verdict |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for spec in specs():
        method = "linf_robust" if spec.kind == "numeric" else "linf_categorical_robust"
        value = results[spec.name][method].value
        flag = "drift" if get_method(method).drifted(value) else "ok"
        others = [
            name
            for name, r in results[spec.name].items()
            if name not in (method, "linf_simple", "linf_categorical")
            and get_method(name).drifted(r.value)
        ]
        e = (ev or {}).get("columns", {}).get(spec.name)
        e_cells = "– | – | –"
        if e:
            e_cells = f"{e['method']} | {e['score']:.4f} | {'drift' if e['drifted'] else 'ok'}"
        print(
            f"| {spec.name} | {spec.drift or 'none'} | {value:.4f} | {flag} "
            f"| {', '.join(others) or '–'} | {e_cells} |"
        )
    print()


if __name__ == "__main__":
    main()
