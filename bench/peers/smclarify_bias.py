"""Run SageMaker Clarify's own bias metrics (smclarify 0.5) on seeded random datasets.

Runs in the peer venv (bench/peers/setup_peers.sh smclarify); prints JSON: per case the rows
and smclarify's pre- and post-training metric values for facet sex = f, label/prediction
positive = 1, group variable zip. bench/bench_bias.py computes the same with modelmon.

Usage: .venvs/smclarify/bin/python bench/peers/smclarify_bias.py CASES
"""

from __future__ import annotations

import json
import sys
from typing import Any

import numpy as np
import pandas as pd
from smclarify.bias import report


def case(seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(30, 400))
    df = pd.DataFrame(
        {
            "sex": rng.choice(["f", "m", "x"], n, p=[0.3, 0.6, 0.1]),
            "zip": rng.choice(["z1", "z2", "z3"], n),
            "y": rng.integers(0, 2, n),
            "p": (rng.random(n) < rng.uniform(0.1, 0.9)).astype(int),
        }
    )
    results = {}
    for name, stage in (
        ("pre_training", report.StageType.PRE_TRAINING),
        ("post_training", report.StageType.POST_TRAINING),
    ):
        predicted = report.LabelColumn("p", df["p"], [1]) if name == "post_training" else None
        out = report.bias_report(
            df.drop(columns=["zip"]),
            report.FacetColumn("sex", ["f"]),
            report.LabelColumn("y", df["y"], [1]),
            stage,
            predicted,
            group_variable=df["zip"],
        )
        results[name] = {m["name"]: m["value"] for m in out[0]["metrics"]}
    return {"rows": {k: [v.item() if hasattr(v, "item") else v for v in df[k]] for k in df},
            "results": results}  # fmt: skip


def main() -> None:
    cases = []
    for seed in range(int(sys.argv[1])):
        try:
            cases.append(case(seed))
        except ValueError:  # smclarify refuses a dataset without positive predictions
            continue
    print(json.dumps(cases))


if __name__ == "__main__":
    main()
