"""Capture records into rows: modelmon's CaptureEvent lines and SageMaker's captureData lines.

SageMaker payloads (SPEC.md §1.1):
- CSV (``encoding: CSV``): one or more lines of values. Features are named from the baseline,
  in order. When input plus output values together match the baseline's column count, the
  output values come first (SageMaker's default ``output_columns_position: START``).
- JSON: ``{"instances": [{"features": [...]}, ...]}``, ``{"instances": [[...], ...]}``,
  ``{"instances": [{"name": value}, ...]}``, ``{"instances": [v1, v2]}`` (one-feature rows),
  ``{"features": [...]}``, a flat object, a list of rows, or JSON Lines. Lists are positional
  (named from the baseline), objects are named; the same reading as the streaming ingest's.
- BASE64: decoded, then read as CSV or JSON by ``observedContentType``.
Shadow-variant records (``invocationSource: ShadowExperiment``) are skipped, as SageMaker does.
"""

from __future__ import annotations

import base64
import binascii
import csv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson

from modelmon.readers.sources import Source
from modelmon.readers.stats import Columns, ReadStats, columns_from_rows
from modelmon.readers.tabular import JSON_BATCH_ROWS, csv_lines_to_columns, iter_json_lines

Row = dict[str, Any]


class BadRecord(ValueError):
    """A capture record that cannot be turned into rows; the message is the reason."""


@dataclass(frozen=True)
class TimeRange:
    """Half-open ``[start, end)`` on event time; either side may be open."""

    start: datetime | None = None
    end: datetime | None = None

    def contains(self, moment: datetime) -> bool:
        return (self.start is None or moment >= self.start) and (
            self.end is None or moment < self.end
        )

    @property
    def is_open(self) -> bool:
        return self.start is None and self.end is None


def parse_time(text: Any) -> datetime:
    if not isinstance(text, str):
        raise BadRecord("event time is missing")
    return _parse_time(text)


@lru_cache(maxsize=8192)
def _parse_time(text: str) -> datetime:
    """Cached: capture files repeat the same second many times."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise BadRecord(f"event time {text[:40]!r} is not ISO-8601") from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def is_sagemaker_record(value: Any) -> bool:
    return isinstance(value, dict) and "captureData" in value


def is_modelmon_record(value: Any) -> bool:
    return (
        isinstance(value, dict) and isinstance(value.get("inputs"), dict) and "event_time" in value
    )


def event_time(record: dict[str, Any]) -> datetime:
    """The event time of either kind of capture record."""
    if "captureData" in record:
        return parse_time((record.get("eventMetadata") or {}).get("inferenceTime"))
    return parse_time(record.get("event_time"))


def modelmon_rows(record: dict[str, Any]) -> list[Row]:
    return [record["inputs"]]


def sagemaker_rows(record: dict[str, Any], names: Sequence[str]) -> list[Row]:
    capture = record["captureData"]
    if not isinstance(capture, dict) or not isinstance(capture.get("endpointInput"), dict):
        raise BadRecord("captureData has no endpointInput")
    inputs = _payload_rows(capture["endpointInput"])
    output = capture.get("endpointOutput") or capture.get("batchTransformOutput")
    n_out = _output_width(output, len(inputs)) if isinstance(output, dict) else 0
    rows: list[Row] = []
    for i, values in enumerate(inputs):
        if isinstance(values, dict):
            rows.append(values)
            continue
        if n_out and len(values) + n_out == len(names):
            out_values = _payload_rows(output)[i] if isinstance(output, dict) else []
            values = [*(out_values if isinstance(out_values, list) else []), *values]
        rows.append(_name_positional(values, names))
    return rows


def _output_width(output: dict[str, Any], n_rows: int) -> int:
    try:
        rows = _payload_rows(output)
    except BadRecord:
        return 0
    if len(rows) != n_rows or not rows or not isinstance(rows[0], list):
        return 0
    return len(rows[0])


def _name_positional(values: list[Any], names: Sequence[str]) -> Row:
    return {(names[i] if i < len(names) else f"_c{i}"): v for i, v in enumerate(values)}


def _payload_rows(payload: dict[str, Any]) -> list[list[Any] | Row]:
    """The rows of one endpointInput/endpointOutput: lists (positional) or dicts (named)."""
    data = payload.get("data")
    if not isinstance(data, str):
        raise BadRecord("capture payload has no data string")
    encoding = str(payload.get("encoding", "")).upper()
    content_type = str(payload.get("observedContentType", "")).lower()
    if encoding == "BASE64":
        try:
            data = base64.b64decode(data, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise BadRecord("BASE64 payload does not decode to UTF-8 text") from exc
        encoding = "JSON" if "json" in content_type else "CSV"
    if encoding == "CSV":
        return [list(r) for r in csv.reader(data.splitlines()) if r]
    if encoding == "JSON":
        return _json_payload_rows(data)
    raise BadRecord(f"unsupported capture encoding {encoding!r}")


def _json_payload_rows(data: str) -> list[list[Any] | Row]:
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        try:  # JSON Lines payload
            docs = [orjson.loads(line) for line in data.splitlines() if line.strip()]
        except orjson.JSONDecodeError as exc:
            raise BadRecord("JSON payload does not parse") from exc
        return [r for d in docs for r in _json_rows(d)]
    return _json_rows(doc)


_WRAPPERS = ("instances", "inputs")


def _json_rows(doc: Any) -> list[list[Any] | Row]:
    """Rows of a JSON payload. ``{"instances": [...]}`` lists instances (a scalar instance is a
    one-feature row: SageMaker's own sample answers ``{"instances": [1.0, 2.0, 5.0]}`` with
    three predictions), as does a list of objects or lists; a bare list of scalars is one row."""
    if isinstance(doc, dict):
        for key in _WRAPPERS:
            if isinstance(doc.get(key), list):  # a list is never a feature value
                return [_instance(item) for item in doc[key]]
        return [_instance(doc)]
    if isinstance(doc, list):
        if doc and all(isinstance(x, dict | list) for x in doc):
            return [_instance(item) for item in doc]
        return [doc]
    raise BadRecord("JSON payload is not an object or a list")


def _instance(item: Any) -> list[Any] | Row:
    if isinstance(item, dict):
        features = item.get("features")
        return features if set(item) == {"features"} and isinstance(features, list) else item
    return item if isinstance(item, list) else [item]


def csv_fast_line(record: dict[str, Any], names: Sequence[str]) -> tuple[int, str] | None:
    """(field count, text) of a one-line, unquoted CSV capture, output first when input and
    output together have the baseline's width (as ``sagemaker_rows``); None: use the slow path."""
    capture = record["captureData"]
    payload = capture.get("endpointInput") if isinstance(capture, dict) else None
    if not isinstance(payload, dict) or payload.get("encoding") != "CSV":
        return None
    data = payload.get("data")
    if not isinstance(data, str) or not _plain_csv(data):
        return None
    width = data.count(",") + 1
    output = capture.get("endpointOutput") or capture.get("batchTransformOutput")
    if isinstance(output, dict) and output.get("encoding") == "CSV":
        out = output.get("data")
        if isinstance(out, str) and _plain_csv(out):
            out_width = out.count(",") + 1
            if width + out_width == len(names):
                return width + out_width, f"{out},{data}"
    return width, data


def _plain_csv(text: str) -> bool:
    return bool(text) and '"' not in text and "\n" not in text and "\r" not in text


class _Pending:
    """Rows waiting to become a batch: named rows, and CSV lines grouped by field count
    (parsed in bulk by pyarrow, no Python work per field)."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = names
        self.rows: list[Row] = []
        self.lines: dict[int, list[str]] = {}
        self.count = 0

    def add_rows(self, rows: list[Row]) -> None:
        self.rows.extend(rows)
        self.count += len(rows)

    def add_line(self, width: int, text: str) -> None:
        self.lines.setdefault(width, []).append(text)
        self.count += 1

    def flush(self) -> Iterator[Columns]:
        if self.rows:
            yield columns_from_rows(self.rows)
        for width, lines in self.lines.items():
            names = [self.names[i] if i < len(self.names) else f"_c{i}" for i in range(width)]
            yield csv_lines_to_columns(lines, names)
        self.rows, self.lines, self.count = [], {}, 0


def read_capture(
    source: Source, stats: ReadStats, names: Sequence[str], window: TimeRange
) -> Iterator[Columns]:
    """Rows of every capture record in a JSON Lines file (either kind, even mixed)."""
    pending = _Pending(names)
    for number, value in iter_json_lines(source, stats):
        try:
            if is_sagemaker_record(value):
                if (value.get("eventMetadata") or {}).get("invocationSource") == "ShadowExperiment":
                    stats.skipped += 1
                    continue
                fast = csv_fast_line(value, names)
                found = None if fast else sagemaker_rows(value, names)
            elif is_modelmon_record(value):
                fast, found = None, modelmon_rows(value)
            else:
                raise BadRecord("line is not a capture record (no captureData or inputs)")
            # Times are parsed only when a range asks for them.
            if not window.is_open and not window.contains(event_time(value)):
                stats.out_of_range += 1
                continue
        except (BadRecord, KeyError, TypeError) as exc:
            stats.bad_rows += 1
            stats.note(f"bad capture record: {exc}", f"{source.name}:{number}")
            continue
        if fast is not None:
            pending.add_line(*fast)
        elif found:
            pending.add_rows(found)
        if pending.count >= JSON_BATCH_ROWS:
            yield from pending.flush()
    yield from pending.flush()
