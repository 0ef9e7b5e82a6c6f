"""The finder of the tests that decode capture events (tests/decode_paths.py, docs/decode.md):
a child process is noted exactly when it calls the decoder; the reports scripts/test.sh reads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = ROOT / "tests" / "decode_probe"
sys.path.insert(0, str(ROOT / "scripts"))

import decode_report  # noqa: E402  (scripts/, the reader scripts/test.sh calls)

DECODES = "from modelmon.streaming import native_decode as n; n.decode_mixed([b'{}'], {'m': ['x']})"
IMPORTS_ONLY = "from modelmon.streaming import native_decode as n; print(n.active())"
FROM_IMPORT = (
    "from modelmon.streaming.native_decode import decode_mixed as d; d([b'{}'], {'m': ['x']})"
)


def _child(code: str, marks: Path, native: str = "1") -> int:
    env = os.environ | {"MODELMON_TEST_DECODE_MARKS": str(marks), "MODELMON_NATIVE": native}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROBE), env.get("PYTHONPATH")) if p)
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, check=True)
    return int(proc.returncode)


@pytest.mark.parametrize("code", [DECODES, FROM_IMPORT])
@pytest.mark.parametrize("native", ["1", "0"])
def test_a_child_that_decodes_leaves_its_mark_on_either_path(
    tmp_path: Path, code: str, native: str
) -> None:
    _child(code, tmp_path, native)
    marks = os.listdir(tmp_path)
    assert len(marks) == 1 and marks[0].isdigit()


def test_a_child_that_only_imports_the_decoder_leaves_none(tmp_path: Path) -> None:
    _child(IMPORTS_ONLY, tmp_path)
    assert os.listdir(tmp_path) == []


def test_without_the_variable_the_probe_does_nothing(tmp_path: Path) -> None:
    env = os.environ | {"PYTHONPATH": str(PROBE)}
    env.pop("MODELMON_TEST_DECODE_MARKS", None)
    done = subprocess.run(
        [sys.executable, "-c", "import sys; print(any(type(f).__module__ == 'decode_probe' "
         "for f in sys.meta_path))"], env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert done.stdout.strip() == "False"


def test_summary_and_files_read_a_report(tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    ids = ["tests/e2e/test_a.py::t[1]", "tests/e2e/test_a.py::u", "tests/unit/test_b.py::v"]
    report.write_text(json.dumps({"ran": 9, "failed": 1, "decoding": ids}))
    assert decode_report.files(str(report)) == ["tests/e2e/test_a.py", "tests/unit/test_b.py"]
    line = decode_report.summary("native path", str(report), 1)
    assert (
        line
        == "native path: 9 tests ran (3 decode capture events), 1 failed: FAILED (pytest exit 1)"
    )
    assert "collected no tests" in decode_report.summary("x", str(report), 5)
    assert decode_report.files(str(tmp_path / "missing.json")) == []
    assert "no report" in decode_report.summary("x", str(tmp_path / "missing.json"), 2)
    assert not decode_report.passed(str(tmp_path / "missing.json"), 0)
    assert not decode_report.passed(str(report), 1)
    assert decode_report.passed(str(report), 0)


def test_selected_tests_that_never_ran_fail_the_pass(tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    report.write_text(json.dumps({"ran": 130, "selected": 147, "failed": 0, "decoding": []}))
    assert not decode_report.passed(str(report), 0)
    assert "17 of the 147 selected tests did not run" in decode_report.summary("x", str(report), 0)
