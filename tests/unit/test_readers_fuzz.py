"""Bad input is counted, never a crash: random files through the readers and the profile."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from modelmon.checks import Baseline, evaluate
from modelmon.readers import DataReader, ReadOptions, read_profile
from modelmon.report import render_report
from modelmon.sagemaker import dumps
from modelmon.sagemaker.build import build_statistics, suggest_constraints

cells = st.one_of(
    st.text(max_size=6),
    st.integers(-(10**20), 10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", "NA", "null", "inf", "-inf", "nan", '"', '""', "1e400", "\x00"]),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=8,
)
FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FUZZ
@given(rows=st.lists(st.lists(cells, min_size=1, max_size=4), max_size=15))
@example(rows=[["\r0"]])  # a carriage return in the first line once broke the header guess
def test_any_csv(tmp_path: Path, rows: list[list[str]]) -> None:
    path = tmp_path / "fuzz.csv"
    path.write_text("\n".join(",".join(r) for r in rows) + "\n", encoding="utf-8", errors="replace")
    reader = DataReader([str(path)], ReadOptions(names=["a", "b"]))
    profile, _ = read_profile(reader)
    stats = reader.stats
    assert profile.row_count == stats.rows
    assert stats.files == 1
    # ... and whatever was read makes valid SageMaker files, checks and a report
    statistics = build_statistics(profile)
    baseline = Baseline(statistics, suggest_constraints(statistics), profile)
    json.loads(dumps(statistics.to_dict()))
    evaluation = evaluate(baseline, profile)
    json.loads(dumps(evaluation.constraint_violations().to_dict()))
    assert "</html>" in render_report(baseline, profile, evaluation)


@FUZZ
@given(docs=st.lists(json_values, max_size=12), junk=st.binary(max_size=20))
def test_any_json_lines_and_capture_records(
    tmp_path: Path, docs: list[object], junk: bytes
) -> None:
    lines = [json.dumps(d) for d in docs]
    lines += [
        json.dumps({"captureData": {"endpointInput": {"data": json.dumps(d), "encoding": "JSON"}},
                    "eventMetadata": {"inferenceTime": "2026-01-01T00:00:00Z"}})
        for d in docs
    ]  # fmt: skip
    lines += [json.dumps({"model_id": "m", "event_time": "2026-01-01T00:00:00Z", "inputs": d})
              for d in docs if isinstance(d, dict)]  # fmt: skip
    path = tmp_path / "fuzz.jsonl"
    path.write_bytes("\n".join(lines).encode() + b"\n" + junk)
    for fmt in ("jsonl", "capture"):
        reader = DataReader([str(path)], ReadOptions(format=fmt, names=["x", "y"]))  # type: ignore[arg-type]
        profile, _ = read_profile(reader)
        assert profile.row_count == reader.stats.rows
