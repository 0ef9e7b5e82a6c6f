"""floatpack (the profile format's float encoding): bytes per value and CPU per 1,000 values
for typical sorted data (docs/decisions/0008-profile-format-v3.md).

Usage: .venv/bin/python bench/bench_floatpack.py [--n 1000] [--repeat 200]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from modelmon.profile.columns import FloatArray
from modelmon.profile.floatpack import pack_sorted, unpack_sorted


def cases(n: int) -> dict[str, FloatArray]:
    rng = np.random.default_rng(3)
    return {
        "normal(50, 10), 3 decimals": rng.normal(50, 10, n).round(3),
        "integers 0-500": rng.integers(0, 500, n).astype(np.float64),
        "timestamps (ms, integers)": 1.7e12 + rng.integers(0, 86_400_000, n).astype(np.float64),
        "prices: lognormal, 2 decimals": rng.lognormal(3, 1, n).round(2),
        "normal(0, 1), full precision": rng.normal(0, 1, n),
        "uniform(0, 1), full precision": rng.random(n),
    }


def cpu_us(fn: Callable[[], object], repeat: int) -> float:
    fn()
    started = time.process_time()
    for _ in range(repeat):
        fn()
    return (time.process_time() - started) / repeat * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1000, help="values per array")
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    print(f"## floatpack: one sorted array of {args.n:,} values\n")
    print("| data | bytes per value | pack µs per 1,000 | unpack µs per 1,000 |")
    print("|---|---|---|---|")
    for name, values in cases(args.n).items():
        values = np.sort(values)
        blob = pack_sorted(values)
        assert unpack_sorted(blob, len(values)).tobytes() == values.tobytes()
        pack = cpu_us(lambda v=values: pack_sorted(v), args.repeat)  # type: ignore[misc]
        unpack = cpu_us(lambda b=blob: unpack_sorted(b, args.n), args.repeat)  # type: ignore[misc]
        scale = 1000 / args.n
        print(f"| {name} | {len(blob) / args.n:.2f} | {pack * scale:.0f} | {unpack * scale:.0f} |")


if __name__ == "__main__":
    main()
