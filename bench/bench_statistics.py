"""Statistics benchmark: profiling speed, drift-evaluation speed and accuracy vs exact, side by
side with whylogs and Evidently (each in its own virtualenv, see bench/peers/setup_peers.sh).

Prints markdown on stdout (bench/run_all.py collects it); progress goes to stderr.
Usage: .venv/bin/python bench/bench_statistics.py [--rows 1000000] [--current-rows 200000]
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from modelmon.drift import evaluate, get_method
from modelmon.profile import DatasetProfile, ProfileTracker

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))  # the exact oracle
from drift_exact import exact_numeric
from rounds import ROUNDS, Rounds, interleaved
from statistics_data import generate, specs
from summary import headline

ROOT = Path(__file__).resolve().parent.parent
PEERS = ROOT / "bench" / "peers"
MODELMON = ROOT / ".venv" / "bin" / "modelmon"


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


#: median CPU milliseconds of the last compare timings ("cold", "warm"): what a compare costs
#: whatever else the shared machine runs (wall time on a busy machine is mostly waiting)
CPU_MS: dict[str, float] = {}


def time_compare(baseline_blob: bytes, current_blob: bytes, repeats: int = 21) -> float:
    """Median of ``repeats`` runs (the fastest run is logged: the machine is shared)."""
    times, cpus = [], []
    for _ in range(repeats):
        started, cpu = time.perf_counter(), time.process_time()
        compare(baseline_blob, current_blob)
        times.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
    CPU_MS["cold"] = float(np.median(cpus)) * 1e3
    log(f"compare: median {np.median(times) * 1e3:.1f} ms, fastest {min(times) * 1e3:.1f} ms, "
        f"CPU median {CPU_MS['cold']:.1f} ms")  # fmt: skip
    return float(np.median(times))


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
    parser.add_argument("--skip-cli", action="store_true")
    parser.add_argument("--skip-evidently", action="store_true", help="its preset takes minutes")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="interleaved peer rounds")
    args = parser.parse_args()
    log(f"generating {args.rows:,} + {args.current_rows:,} rows ...")
    ref, cur = generate(args.rows, 1, False), generate(args.current_rows, 2, True)
    with tempfile.TemporaryDirectory(prefix="modelmon-bench-") as tmp:
        ref_path, cur_path = Path(tmp) / "reference.parquet", Path(tmp) / "current.parquet"
        ref.to_parquet(ref_path)
        cur.to_parquet(cur_path)
        # pandas 3 keeps strings in its str dtype; give both tools the data as read back
        ref, cur = pd.read_parquet(ref_path), pd.read_parquet(cur_path)
        ref_columns = columns_of(ref)
        current, _ = profile(columns_of(cur), len(cur), args.batch)
        profiles: list[DatasetProfile] = []
        rates: list[float] = []

        def ours_profile() -> float:
            baseline, seconds = profile(ref_columns, len(ref), args.batch)
            profiles.append(baseline)
            rates.append(len(ref) / seconds)
            return rates[-1]

        peers: dict[str, Any] = {}
        log("modelmon: profiling, whylogs interleaved ...")
        peers["whylogs"] = None if args.skip_peers else interleaved(
            ours_profile, lambda: _peer(peers, "whylogs", "whylogs_profile.py", ref_path),
            lambda ours, wl: ours / wl["rows_per_s"], args.rounds, log,
        )  # fmt: skip
        if not profiles:
            ours_profile()
        blobs = profiles[-1].serialize(), current.serialize()
        log("modelmon: compare, Evidently interleaved ...")
        skip_ev = args.skip_peers or args.skip_evidently
        peers["evidently"] = None if skip_ev else interleaved(
            lambda: time_compare(*blobs),
            lambda: _peer(peers, "evidently", "evidently_drift.py", ref_path, cur_path),
            lambda ours, ev: ev["seconds"] / ours, args.rounds, log,
        )  # fmt: skip
        compare_s = time_compare(*blobs)
        warm_s = time_compare_warm(*blobs)
        log("modelmon: accuracy vs exact ...")
        errors = accuracy(ref, cur, compare(*blobs), profiles[-1])
        cli = None if args.skip_cli else cli_rounds(ref_path, ref_columns, len(ref), args)
    speeds = (statistics.median(rates), compare_s, warm_s)
    report(args, len(ref), speeds, blobs, errors, compare(*blobs), peers, cli)


def _peer(peers: dict[str, Any], name: str, script: str, *args: Path) -> dict[str, Any] | None:
    """One peer run; None (and why, in ``peers``) when the peer is unavailable."""
    result = run_peer(name, script, *args)
    if isinstance(result, str):
        peers[f"{name}:why"] = result
        return None
    return result


def time_compare_warm(baseline_blob: bytes, current_blob: bytes, repeats: int = 21) -> float:
    """Per window as the detector runs it: the baseline loaded once, each window's profile
    loaded and compared (median of ``repeats``)."""
    baseline = DatasetProfile.deserialize(baseline_blob)
    times, cpus = [], []
    for _ in range(repeats):
        started, cpu = time.perf_counter(), time.process_time()
        current = DatasetProfile.deserialize(current_blob)
        for name, b in baseline.features.items():
            evaluate(b, current.features[name])
        times.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
    CPU_MS["warm"] = float(np.median(cpus)) * 1e3
    log(f"compare, baseline loaded once: median {np.median(times) * 1e3:.1f} ms, "
        f"fastest {min(times) * 1e3:.1f} ms, CPU median {CPU_MS['warm']:.1f} ms")  # fmt: skip
    return float(np.median(times))


def cli_rounds(
    path: Path, columns: dict[str, np.ndarray], rows: int, args: argparse.Namespace
) -> tuple[Rounds[float], list[float], list[float]]:
    """`modelmon baseline create` on the Parquet file vs the library profiling the same rows
    in memory, interleaved. The rounds hold CPU seconds (user + system: what the work costs,
    whatever else the shared machine runs); the ratio is CLI / library (lower is better).
    Also returns the wall seconds of each (library, CLI)."""
    log("baseline create (CLI) vs the library, interleaved ...")
    walls: tuple[list[float], list[float]] = ([], [])

    def library() -> float:
        cpu = time.process_time()
        walls[0].append(profile(columns, rows, args.batch)[1])
        return time.process_time() - cpu

    def cli() -> float:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        with tempfile.TemporaryDirectory(prefix="modelmon-bench-cli-") as out:
            started = time.perf_counter()
            subprocess.run([str(MODELMON), "baseline", "create", "--data", str(path),
                            "--out", out], check=True, capture_output=True)  # fmt: skip
            walls[1].append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)

    rounds = interleaved(library, cli, lambda lib, c: c / lib, args.rounds, log)
    assert rounds is not None
    return rounds, *walls


def _fmt_rate(x: float) -> str:
    return f"{x / 1e3:,.0f}k" if x < 1e6 else f"{x / 1e6:,.2f}M"


def report(
    args: argparse.Namespace,
    rows: int,
    speeds: tuple[float, float, float],  # rows/s, compare s, compare s with the baseline loaded
    blobs: tuple[bytes, bytes],
    errors: dict[str, list[float]],
    results: dict[str, dict[str, Any]],
    peers: dict[str, Any],
    cli: tuple[Rounds[float], list[float], list[float]] | None,
) -> None:
    rate, compare = speeds[0], speeds[1:]
    print("## Statistics: profiling and drift (bench_statistics.py)\n")
    print(
        f"Data: {rows:,} reference rows and {args.current_rows:,} drifted rows, 20 numeric + "
        f"5 categorical columns (Zipf, 5 … 50,000 values); modelmon fed {args.batch:,}-row "
        "batches of the same pandas columns whylogs receives. Peer ratios: the median of "
        f"{args.rounds} interleaved rounds (modelmon, peer, modelmon, peer, …), spread shown.\n"
    )
    print("| what | modelmon | peer | ratio | target |")
    print("|---|---|---|---|---|")
    print(_profile_row(rate, peers))
    print(_compare_row(compare[0], peers, sum(len(r) for r in results.values())))
    print(f"| drift: the same, baseline loaded once (as the detector runs it) "
          f"| {compare[1] * 1e3:.1f} ms ({CPU_MS.get('warm', math.nan):.1f} ms CPU) "
          "| | | < 50 ms |")  # fmt: skip
    if cli is not None:
        cpu, lib_wall, cli_wall = cli
        print(f"| `modelmon baseline create` on the Parquet file vs the library profiling the "
              f"same rows in memory: CPU seconds (wall) | {statistics.median(cpu.peer):.2f} s "
              f"({statistics.median(cli_wall):.2f} s) | library {cpu.median_ours:.2f} s "
              f"({statistics.median(lib_wall):.2f} s) | {cpu.text()} | ≤ 1.5× |")  # fmt: skip
    _headlines(rate, compare[0], peers, errors, None if cli is None else cli[0])
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
    verdicts(results, ev.peer[-1] if isinstance(ev, Rounds) else None)


def _why(peers: dict[str, Any], name: str) -> str:
    return str(peers.get(f"{name}:why", "skipped"))


def _headlines(
    rate: float,
    compare_s: float,
    peers: dict[str, Any],
    errors: dict[str, list[float]],
    cli: Rounds[float] | None,
) -> None:
    wl, ev = peers.get("whylogs"), peers.get("evidently")
    if isinstance(wl, Rounds):
        wl_rate = statistics.median(r["rows_per_s"] for r in wl.peer)
        headline("statistics", "profile rows/s, 25 columns (median of interleaved rounds)",
                 _fmt_rate(rate), f"whylogs {wl.peer[0]['version']}: {_fmt_rate(wl_rate)}",
                 wl.text(), "≥ 10× whylogs", wl.ratio >= 10)  # fmt: skip
    else:
        headline("statistics", "profile rows/s, 25 columns", _fmt_rate(rate),
                 f"whylogs {_why(peers, 'whylogs')}")  # fmt: skip
    ref = ratio_ev = ""
    if isinstance(ev, Rounds):
        seconds = statistics.median(r["seconds"] for r in ev.peer)
        ref, ratio_ev = f"Evidently {ev.peer[0]['version']}: {seconds:.0f} s", ev.text()
    headline("statistics", "drift: compare two stored profiles (25 features, all distances)",
             f"{compare_s * 1e3:.1f} ms", ref, ratio_ev, "< 50 ms", compare_s < 0.050)  # fmt: skip
    if cli is not None:
        headline("statistics", "`baseline create` from Parquet vs the library in memory, CPU "
                 "seconds (median of interleaved rounds)",
                 f"{statistics.median(cli.peer):.2f} s", f"library: {cli.median_ours:.2f} s",
                 cli.text(), "≤ 1.5×", cli.ratio <= 1.5)  # fmt: skip
    ks = max(errors["linf_simple"])
    headline("statistics", "KS / L-inf from sketches vs exact (scipy), max abs error",
             f"{ks:.4f}", "scipy ks_2samp", "", "≤ 0.01", ks <= 0.01)  # fmt: skip


def _profile_row(ours: float, peers: dict[str, Any]) -> str:
    wl = peers.get("whylogs")
    if not isinstance(wl, Rounds):
        peer = f"whylogs {_why(peers, 'whylogs')}"
        return f"| profile rows/s (25 columns) | {_fmt_rate(ours)} | {peer} | – | ≥ 10× |"
    wl_rate = statistics.median(r["rows_per_s"] for r in wl.peer)
    peer = f"whylogs {wl.peer[0]['version']} `why.log`: {_fmt_rate(wl_rate)}"
    return f"| profile rows/s (25 columns) | {_fmt_rate(ours)} | {peer} | {wl.text()} | ≥ 10× |"


def _compare_row(compare_s: float, peers: dict[str, Any], n_distances: int) -> str:
    what = f"drift: compare 2 stored profiles, 25 features, all {n_distances} distances"
    ours = f"{compare_s * 1e3:.1f} ms ({CPU_MS.get('cold', math.nan):.1f} ms CPU)"
    ev = peers.get("evidently")
    if not isinstance(ev, Rounds):
        return f"| {what} | {ours} | Evidently {_why(peers, 'evidently')} | – | < 50 ms |"
    seconds = statistics.median(r["seconds"] for r in ev.peer)
    peer = f"Evidently {ev.peer[0]['version']} DataDriftPreset (raw data): {seconds:.1f} s"
    return f"| {what} | {ours} | {peer} | {ev.text()} | < 50 ms |"


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
