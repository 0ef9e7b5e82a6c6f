"""scripts/test.sh's reader of the reports tests/decode_paths.py writes (docs/decode.md).

``summary NAME REPORT RC``: one line, how many tests ran on that path and whether the pass failed
(exit 1 when it did: pytest's exit code RC, no report, or selected tests that never ran).
``files REPORT``: the test files holding the tests that decoded capture events, one per line.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def _load(report: str) -> dict[str, Any] | None:
    path = Path(report)
    if not path.is_file() or not path.stat().st_size:
        return None
    loaded = json.loads(path.read_text())
    return loaded if isinstance(loaded, dict) else None


def summary(name: str, report: str, rc: int) -> str:
    loaded = _load(report)
    verdict = "passed" if rc == 0 else f"FAILED (pytest exit {rc})"
    if rc == 5:
        verdict = "FAILED: pytest collected no tests (exit 5)"
    if loaded is None:
        return f"{name}: no report (pytest stopped early): {verdict}"
    ran, decoding, failed = loaded["ran"], len(loaded["decoding"]), loaded["failed"]
    selected = loaded.get("selected", ran)
    if rc == 0 and ran < selected:  # pytest said all passed, yet some never ran
        verdict = f"FAILED: {selected - ran} of the {selected} selected tests did not run"
    return f"{name}: {ran} tests ran ({decoding} decode capture events), {failed} failed: {verdict}"


def passed(report: str, rc: int) -> bool:
    """The pass passed: pytest's 0, a report, and every selected test ran."""
    loaded = _load(report)
    return rc == 0 and loaded is not None and loaded["ran"] >= loaded.get("selected", 0)


def files(report: str) -> list[str]:
    loaded = _load(report)
    ids = loaded["decoding"] if loaded else []
    return list(dict.fromkeys(node.split("::", 1)[0] for node in ids))


def main(argv: list[str]) -> int:
    if len(argv) == 4 and argv[0] == "summary":
        print(summary(argv[1], argv[2], int(argv[3])))
        return 0 if passed(argv[2], int(argv[3])) else 1
    if len(argv) == 2 and argv[0] == "files":
        for name in files(argv[1]):
            print(name)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
