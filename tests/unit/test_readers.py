"""modelmon.readers: every input format becomes the right columns; bad input is counted."""

from __future__ import annotations

import base64
import gzip
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from modelmon.readers import DataReader, DataSourceError, ReadOptions, TimeRange, read_profile
from modelmon.readers.tabular import csv_column_names

REF = Path(__file__).parents[1] / "fixtures" / "batch" / "sagemaker"


def read_all(paths: list[Path | str], **options: Any) -> tuple[dict[str, list[Any]], DataReader]:
    reader = DataReader([str(p) for p in paths], ReadOptions(**options))
    out: dict[str, list[Any]] = {}
    for batch in reader.batches():
        n = max(len(c) for c in batch.values())
        seen = max((len(v) for v in out.values()), default=0)
        for name, column in batch.items():
            out.setdefault(name, [None] * seen).extend(list(column))
        for name in out.keys() - batch.keys():
            out[name].extend([None] * n)
    return out, reader


def test_csv_with_header_converts_whole_columns(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("n,x,s,mixed\n1,1.5,a,3\n2,NaN,b,x\n,2.5,,NA\n")
    reader = DataReader([str(path)])
    batch = next(reader.batches())
    assert batch["x"].dtype == np.float64 and np.isnan(batch["x"][1])
    assert list(batch["n"]) == [1, 2, None]  # integers with a gap stay integers
    assert list(batch["s"]) == ["a", "b", None]
    assert list(batch["mixed"]) == ["3", "x", "NA"]
    assert reader.stats.rows == 3
    profile, order = read_profile(DataReader([str(path)]))
    assert order == ["n", "x", "s", "mixed"]
    assert profile.features["n"].inferred_type == "Integral"
    assert profile.features["x"].inferred_type == "Fractional"
    assert profile.features["mixed"].inferred_type == "String"


def test_gzipped_csv(tmp_path: Path) -> None:
    (tmp_path / "d.csv.gz").write_bytes(gzip.compress(b"a,b\n1,x\n2,y\n"))
    assert read_all([tmp_path / "d.csv.gz"])[0] == {"a": [1, 2], "b": ["x", "y"]}


def test_csv_integer_column_without_gaps_is_an_int_array(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("n\n1\n2\n3\n")
    batch = next(DataReader([str(path)]).batches())
    assert batch["n"].dtype == np.int64


def test_header_guess_and_names() -> None:
    assert csv_column_names("a,b", None, None) == (["a", "b"], True)
    assert csv_column_names("1.0,2", None, None) == (["_c0", "_c1"], False)
    assert csv_column_names("1.0,2,3", None, ["x", "y"]) == (["x", "y", "_c2"], False)
    assert csv_column_names("1,2", True, None) == (["1", "2"], True)
    assert csv_column_names("1.5,red", None, None) == (["_c0", "_c1"], False)  # a number: data
    assert csv_column_names("2019,x", None, ["2019", "x"]) == (["2019", "x"], True)  # known names
    assert csv_column_names("red,blue", None, ["a", "b"]) == (["red", "blue"], True)
    assert csv_column_names("red,blue", False, ["a", "b"]) == (["a", "b"], False)
    assert csv_column_names("x,x,,y", None, None) == (["x", "x.1", "_c2", "y"], True)


def test_excel_byte_order_mark(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_bytes(b"\xef\xbb\xbfage,name\n1,a\n")
    (tmp_path / "b.csv").write_bytes(b"\xef\xbb\xbf2,b\n")
    assert read_all([tmp_path / "a.csv"])[0] == {"age": [1], "name": ["a"]}
    assert read_all([tmp_path / "b.csv"], names=["age", "name"])[0] == {"age": [2], "name": ["b"]}
    (tmp_path / "c.jsonl").write_bytes(b'\xef\xbb\xbf{"age": 3}\n')
    assert read_all([tmp_path / "c.jsonl"])[0] == {"age": [3]}


def test_headerless_csv_takes_baseline_names() -> None:
    columns, reader = read_all([REF / "data_quality_baseline_dataset.csv"], names=["p", "q"])
    assert list(columns) == ["p", "q", "_c2", "_c3", "_c4", "_c5"]
    assert reader.stats.rows == 100


def test_bad_csv_rows_and_empty_files_are_counted(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("x,y\n1,2\n3\n4,5,6\n7,8\n")
    (tmp_path / "b.csv").write_text("")
    columns, reader = read_all([tmp_path])
    assert columns["x"] == [1, 7]
    stats = reader.stats
    assert (stats.files, stats.rows, stats.bad_rows, stats.empty_files) == (2, 2, 2, 1)
    assert stats.problems["CSV row with 1 field(s), expected 2"] == 1
    assert stats.problems["CSV row with 3 field(s), expected 2"] == 1
    assert stats.examples["empty file"].endswith("b.csv")


def test_parquet(tmp_path: Path) -> None:
    table = pa.table(
        {
            "i": pa.array([1, None, 3], pa.int64()),
            "f": pa.array([0.5, 1.5, None]),
            "s": pa.array(["a", "b", "c"]),
            "t": pa.array([datetime(2026, 1, 1, tzinfo=UTC)] * 3),
        }
    )
    pq.write_table(table, tmp_path / "d.parquet")
    profile, order = read_profile(DataReader([str(tmp_path / "d.parquet")]))
    assert order == ["i", "f", "s", "t"]
    assert profile.features["i"].inferred_type == "Integral"
    assert profile.features["i"].missing == 1
    assert profile.features["f"].inferred_type == "Fractional"
    assert profile.features["s"].inferred_type == "String"
    assert profile.row_count == 3


def test_unreadable_file_is_counted_and_the_rest_is_read(tmp_path: Path) -> None:
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 this is not parquet")
    (tmp_path / "ok.csv").write_text("x\n1\n")
    columns, reader = read_all([tmp_path])
    assert columns == {"x": [1]}
    assert reader.stats.files_failed == 1
    assert any(r.startswith("unreadable file") for r in reader.stats.problems)


def test_json_lines_with_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text('{"a": 1, "b": "x"}\n\n{not json\n[1, 2]\n{"a": 2.5, "c": [1]}\n')
    columns, reader = read_all([path])
    assert columns == {"a": [1, 2.5], "b": ["x", None], "c": [None, [1]]}
    assert reader.stats.bad_rows == 2
    assert reader.stats.examples["line is not valid JSON"].endswith("d.jsonl:3")


def test_json_array_file(tmp_path: Path) -> None:
    path = tmp_path / "d.json"
    path.write_text('[{"a": 1}, {"a": 2}]')
    assert read_all([path])[0] == {"a": [1, 2]}


def capture_event(t: str, **inputs: Any) -> str:
    return json.dumps({"model_id": "m", "event_time": t, "inputs": inputs, "outputs": {}})


def test_modelmon_capture_records_with_a_time_range(tmp_path: Path) -> None:
    path = tmp_path / "cap.jsonl.gz"
    lines = [
        capture_event("2026-01-01T00:00:00Z", x=1, c="a"),
        capture_event("2026-01-01T01:00:00Z", x=2, c="b"),
        capture_event("2026-01-01T02:00:00Z", x=3, c="c"),
        json.dumps({"model_id": "m", "event_time": "yesterday", "inputs": {"x": 9}}),
    ]
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    window = TimeRange(datetime(2026, 1, 1, 0, 30, tzinfo=UTC), datetime(2026, 1, 1, 2, tzinfo=UTC))
    columns, reader = read_all([path], window=window)
    assert columns == {"x": [2], "c": ["b"]}
    assert reader.stats.out_of_range == 2
    assert reader.stats.bad_rows == 1


def test_sagemaker_csv_capture_puts_the_output_first() -> None:
    names = ["Churn", *[f"f{i}" for i in range(69)]]
    columns, reader = read_all([REF / "churn_capture_sample.jsonl"], names=names)
    assert columns["Churn"] == [0.036397725343704224, 0.3791300654411316, 0.017852725461125374]
    assert columns["f0"] == [132, 130, 85]
    assert len(columns) == 70 and reader.stats.rows == 3


def test_sagemaker_csv_capture_with_inputs_only() -> None:
    names = [f"f{i}" for i in range(7)]
    columns, reader = read_all([REF / "capture.jsonl"], names=names)
    assert list(columns) == names
    assert columns["f0"][:3] == [9, 27, 9]
    assert reader.stats.bad_rows == 0  # the "{%s}" time placeholder only matters with a range


def test_sagemaker_json_capture_instances() -> None:
    names = [f"f{i}" for i in range(14)]
    columns, _ = read_all([REF / "json_capture_sample.jsonl"], names=names)
    assert columns["f0"] == [28, 28, 43]  # 1 instance, then 2 in one request
    assert columns["f13"] == [37, 37, 37]
    # {"instances": [1.0, 2.0, 5.0]} is three one-feature instances (three predictions)
    single, _ = read_all([REF / "captured-data.jsonl"], names=["a", "b", "c"])
    assert single == {"a": [1.0, 2.0, 5.0, 1.0, 2.0, 5.0]}


def sagemaker_record(data: str, encoding: str, content_type: str, **meta: Any) -> str:
    return json.dumps(
        {
            "captureData": {
                "endpointInput": {
                    "observedContentType": content_type,
                    "mode": "INPUT",
                    "data": data,
                    "encoding": encoding,
                }
            },
            "eventMetadata": {"eventId": "e", "inferenceTime": "2026-01-01T00:00:00Z", **meta},
            "eventVersion": "0",
        }
    )


def test_sagemaker_base64_named_json_shadow_and_bad_records(tmp_path: Path) -> None:
    lines = [
        sagemaker_record(base64.b64encode(b"1,2").decode(), "BASE64", "text/csv"),
        sagemaker_record(json.dumps({"a": 5, "b": 6}), "JSON", "application/json"),
        sagemaker_record("3,4", "CSV", "text/csv", invocationSource="ShadowExperiment"),
        sagemaker_record("%%%", "BASE64", "text/csv"),
        sagemaker_record("{nope", "JSON", "application/json"),
        json.dumps({"something": "else"}),
    ]
    path = tmp_path / "cap.jsonl"
    path.write_text("\n".join(lines) + "\n")
    columns, reader = read_all([path], names=["a", "b"])
    assert columns == {"a": ["1", 5], "b": ["2", 6]}
    assert reader.stats.skipped == 1
    assert reader.stats.bad_rows == 3
    assert reader.stats.rows == 2


def test_folders_are_walked_recursively_and_sorted(tmp_path: Path) -> None:
    (tmp_path / "2026" / "01").mkdir(parents=True)
    (tmp_path / "2026" / "01" / "b.csv").write_text("x\n2\n")
    (tmp_path / "a.csv").write_text("x\n1\n")
    (tmp_path / "notes.txt").write_text("ignored")
    columns, reader = read_all([tmp_path])
    # sorted by path: SageMaker's yyyy/mm/dd/hh capture folders come out in time order
    assert columns == {"x": [2, 1]}
    assert [Path(s.name).name for s in reader.sources] == ["b.csv", "a.csv"]


def test_missing_paths_are_errors(tmp_path: Path) -> None:
    with pytest.raises(DataSourceError, match="does not exist"):
        DataReader([str(tmp_path / "nope.csv")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataSourceError, match="no data files found"):
        DataReader([str(tmp_path / "empty")])
    with pytest.raises(DataSourceError, match="needs AWS settings"):
        DataReader(["s3://bucket/prefix"])


def test_progress_is_reported_per_file(tmp_path: Path) -> None:
    for i in range(3):
        (tmp_path / f"{i}.csv").write_text("x\n1\n2\n")
    seen: list[Any] = []
    reader = DataReader([str(tmp_path)], progress=seen.append)
    list(reader.batches())
    assert [(p.files_done, p.files_total, p.rows) for p in seen] == [
        (0, 3, 2), (1, 3, 2), (1, 3, 4), (2, 3, 4), (2, 3, 6), (3, 3, 6),
    ]  # fmt: skip
    assert seen[-1].bytes_done == seen[-1].bytes_total


def test_csv_quoted_fields_with_commas_and_newlines(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text('id,comment\n1,"fine, thanks"\n2,"two\nlines"\n')
    columns, reader = read_all([path])
    assert columns == {"id": [1, 2], "comment": ["fine, thanks", "two\nlines"]}
    assert reader.stats.bad_rows == 0


@pytest.mark.parametrize(
    "name", ["json_capture_sample.jsonl", "captured-data.jsonl", "capture.jsonl"]
)
def test_capture_payloads_read_as_the_streaming_ingest_reads_them(name: str) -> None:
    """Batch ``monitor`` and the streaming path must see the same rows in a capture file."""
    from modelmon.capture.sagemaker import SageMakerCaptureRecord, parse_inputs

    names = [f"f{i}" for i in range(14)]
    expected: list[dict[str, Any]] = []
    for line in (REF / name).read_text().splitlines():
        record = SageMakerCaptureRecord.model_validate_json(line)
        expected.extend(parse_inputs(record.captureData.endpointInput, names))
    reader = DataReader([str(REF / name)], ReadOptions(names=names))
    rows: list[dict[str, Any]] = []
    for batch in reader.batches():
        n = max(len(c) for c in batch.values())
        rows.extend({k: batch[k][i] for k in batch if batch[k][i] is not None} for i in range(n))
    # CSV cells stay text here (the profile parses them); the ingest types them first.
    assert [{k: str(v) for k, v in r.items()} for r in rows] == [
        {k: str(v) for k, v in r.items()} for r in expected
    ]


def test_progress_printer_lines() -> None:
    import io

    from modelmon.readers import ReadProgress
    from modelmon.readers.progress import ProgressPrinter

    out = io.StringIO()
    printer = ProgressPrinter(out, "monitor", interval=3600)
    printer(ReadProgress(0, 2, 0, 2_000_000, 10))  # throttled
    printer(ReadProgress(1, 2, 1_000_000, 2_000_000, 20))  # throttled
    printer(ReadProgress(2, 2, 2_000_000, 2_000_000, 12345))  # the last one always shows
    assert out.getvalue().splitlines() == ["monitor: 2/2 files (2.0/2.0 MB), 12,345 rows"]
    every = io.StringIO()
    printer = ProgressPrinter(every, "monitor", interval=0)
    printer(ReadProgress(0, 2, 0, 2_000_000, 10))
    printer(ReadProgress(2, 2, 2_000_000, 2_000_000, 20))
    assert every.getvalue().splitlines() == [
        "monitor: 0/2 files (0.0/2.0 MB), 10 rows",
        "monitor: 2/2 files (2.0/2.0 MB), 20 rows",
    ]


class _Terminal(__import__("io").StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_a_bar_on_a_terminal_and_lines_elsewhere() -> None:
    import io

    from modelmon.readers import ReadProgress
    from modelmon.readers.progress import ProgressPrinter

    steps = [ReadProgress(0, 2, 0, 4_000_000, 0), ReadProgress(1, 2, 2_000_000, 4_000_000, 500),
             ReadProgress(2, 2, 4_000_000, 4_000_000, 1000)]  # fmt: skip
    terminal = _Terminal()
    bar = ProgressPrinter(terminal, "monitor", interval=0)
    for step in steps:
        bar(step)
    drawn = terminal.getvalue()
    assert "\r" in drawn and "100%" in drawn and "2/2 files, 1,000 rows" in drawn
    assert "4.00M/4.00M" in drawn and drawn.endswith("\n")
    log = io.StringIO()
    plain = ProgressPrinter(log, "monitor", interval=0)
    for step in steps:
        plain(step)
    assert "\r" not in log.getvalue() and "%" not in log.getvalue()
    assert log.getvalue().splitlines()[-1] == "monitor: 2/2 files (4.0/4.0 MB), 1,000 rows"
