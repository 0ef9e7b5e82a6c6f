"""The demo's bias check on its own traffic: false alarms in quiet windows, detection in the
incident (model v2), over many seeds. Not a timing benchmark: a statistics probe.

    .venv/bin/python bench/probe_demo_bias.py --seeds 20 --windows 5
"""

from __future__ import annotations

import argparse

import numpy as np

from modelmon.demo.bias_rates import bias_rates
from modelmon.demo.model import train
from modelmon.demo.phases import default_schedule


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--windows", type=int, default=5, help="windows per seed and phase")
    args = parser.parse_args()
    model, _ = train()
    normal, incident, _ = default_schedule(5)
    rates = bias_rates(model, [normal, incident], range(args.seeds), args.windows)
    for name, r in rates.items():
        sd = float(np.std(r.dppl))
        print(
            f"{name:<9} windows {r.windows:4d}  evaluations {r.evaluations:4d}  "
            f"violated {r.violated:4d}  windows with a violation {r.windows_violated:4d}  "
            f"DPPL mean {np.mean(r.dppl):+.3f} sd {sd:.3f} max |DPPL| {r.max_abs_dppl:.3f}"
        )


if __name__ == "__main__":
    main()
