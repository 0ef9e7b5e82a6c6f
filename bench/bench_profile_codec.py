"""CPU of serializing and deserializing a partial profile, and its size (issue 23; the profile
format, docs/decisions/0008-profile-format-v3.md).

The one-model case of bench_flush.py: a 25-feature window partial (21 numeric, 4 categorical)
of ``--events`` events, its sketches saturated (~0.5 MB in format 2), which the aggregator
rewrites once a second; and a small window's partial (``--small`` events: 1,000 models on one
topic). Numeric values are 3-decimal normals (as bench_flush.py's) or, with ``--full``,
full-precision ones. Reports the median CPU time of ``--repeat`` runs of each.

Usage: .venv/bin/python bench/bench_profile_codec.py [--events 20000] [--small 100]
       [--repeat 30] [--full]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

from modelmon.profile import DatasetProfile, ProfileTracker
from modelmon.profile.codec import FORMAT_VERSION
from summary import headline  # bench/ is the script's directory

NUMERIC = [f"n{i:02d}" for i in range(21)]
CATEGORICAL = [f"c{i}" for i in range(4)]
CATEGORIES = np.array(["alpha", "beta", "gamma", "delta", "epsilon", "zeta"], dtype=object)


def partial(events: int, full: bool, seed: int = 7) -> DatasetProfile:
    """A window's partial folded in ten batches, as the aggregator builds it."""
    rng = np.random.default_rng(seed)
    kinds = {f: "numeric" for f in NUMERIC} | {f: "categorical" for f in CATEGORICAL}
    tracker = ProfileTracker(kinds)  # type: ignore[arg-type]
    for lo in range(0, events, max(1, events // 10)):
        m = min(max(1, events // 10), events - lo)
        nums = rng.normal(50.0, 10.0, (m, len(NUMERIC)))
        cols: dict[str, object] = {
            f: nums[:, i] if full else nums[:, i].round(3) for i, f in enumerate(NUMERIC)
        }
        cols.update({f: CATEGORIES[rng.integers(0, 6, m)] for f in CATEGORICAL})
        tracker.update(cols)  # type: ignore[arg-type]
    return tracker.snapshot()


def cpu_ms(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.process_time()
        fn()
        times.append(time.process_time() - started)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--full", action="store_true", help="full-precision values")
    args = parser.parse_args()
    data = "full-precision" if args.full else "3-decimal"
    print(f"## Profile codec (format version {FORMAT_VERSION}, {data} normals, 25 features)\n")
    print("| partial | events | bytes | bytes per event | serialize CPU ms | deserialize CPU ms |")
    print("|---|---|---|---|---|---|")
    for name, events, repeat in (
        ("one model (saturated)", args.events, args.repeat),
        ("small window", args.small, args.repeat * 10),
    ):
        profile = partial(events, args.full)
        blob = profile.serialize()
        ser = cpu_ms(profile.serialize, repeat)
        de = cpu_ms(lambda b=blob: DatasetProfile.deserialize(b), repeat)  # type: ignore[misc]
        print(f"| {name} | {events:,} | {len(blob):,} | {len(blob) / events:.1f} "
              f"| {ser:.3f} | {de:.3f} |")  # fmt: skip
        headline("profile codec", f"{name} partial ({data}): bytes, serialize + deserialize CPU",
                 f"{len(blob):,} B, {ser:.2f} + {de:.2f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
