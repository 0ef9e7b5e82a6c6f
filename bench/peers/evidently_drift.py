"""Peer run (inside .venvs/evidently): time Evidently's DataDriftPreset on two parquet files.

Prints JSON: seconds, and per column the method Evidently chose, its score, threshold and verdict.
Usage: .venvs/evidently/bin/python bench/peers/evidently_drift.py REFERENCE.parquet CURRENT.parquet
"""

from __future__ import annotations

import json
import sys
import time

import evidently
import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset


def main() -> None:
    reference = pd.read_parquet(sys.argv[1])
    current = pd.read_parquet(sys.argv[2])
    started = time.perf_counter()
    snapshot = Report([DataDriftPreset()]).run(current_data=current, reference_data=reference)
    result = snapshot.dict()
    seconds = time.perf_counter() - started
    columns = {}
    for metric in result["metrics"]:
        config = metric.get("config", {})
        if config.get("type", "").endswith("ValueDrift"):
            method = str(config.get("method"))
            score, threshold = float(metric["value"]), float(config.get("threshold"))
            p_value = "p_value" in method
            drifted = score < threshold if p_value else score >= threshold
            columns[config["column"]] = {
                "method": method,
                "score": score,
                "threshold": threshold,
                "drifted": drifted,
            }
    print(
        json.dumps(
            {
                "seconds": seconds,
                "columns": columns,
                "version": evidently.__version__,
                "reference_rows": len(reference),
                "current_rows": len(current),
            }
        )
    )


if __name__ == "__main__":
    main()
