"""Peer run (inside .venvs/whylogs): time whylogs' ``why.log`` on a parquet file, print JSON.

Usage: .venvs/whylogs/bin/python bench/peers/whylogs_profile.py DATA.parquet
"""

from __future__ import annotations

import json
import sys
import time

import pandas as pd
import whylogs as why


def main() -> None:
    df = pd.read_parquet(sys.argv[1])
    started = time.perf_counter()
    results = why.log(pandas=df)  # default settings
    results.view()
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "rows": len(df),
                "columns": df.shape[1],
                "seconds": seconds,
                "rows_per_s": len(df) / seconds,
                "version": why.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
