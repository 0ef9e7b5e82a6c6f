"""Ground-truth labels: the label event and SageMaker's ground-truth record.

A label event (topic ``modelmon.labels.v1``, key = inference id) says what the right answer was
for one inference. SageMaker's ground-truth files (``{"groundTruthData": {"data", "encoding"},
"eventMetadata": {"eventId"}, "eventVersion"}``, JSON Lines or a JSON array under
``yyyy/mm/dd/hh/``) map onto it: ``eventMetadata.eventId`` is the inference id the label joins
to (SageMaker matches it against the capture's ``inferenceId``, else its ``eventId``).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import Field, ValidationError

from modelmon.errors import InvalidEventError
from modelmon.events import SCHEMA_VERSION, ModelId, UtcDatetime, _Event, new_event_id

LABELS_TOPIC = "modelmon.labels.v1"

#: A label: a class (string/int/bool), a regression value (number) or a multi-label list.
LabelValue = str | int | float | bool | list[str | int]


class LabelEvent(_Event):
    """The ground truth of one inference (topic ``modelmon.labels.v1``, key = inference id).

    Joins to the capture event whose ``inference_id`` equals this one (SageMaker's rule: the
    capture's inferenceId, else its eventId). Labels may arrive before or after the prediction;
    for one inference the first label the join sees wins, later ones are counted as duplicates.
    """

    schema_version: Literal[1] = SCHEMA_VERSION
    event_id: str = Field(default_factory=new_event_id, min_length=1, max_length=128)
    inference_id: str = Field(min_length=1, max_length=256, description="the join key")
    model_id: ModelId
    label: LabelValue = Field(
        description="the class (classification), the value (regression) or a list (multi-label)"
    )
    label_time: UtcDatetime = Field(description="when the label was observed (UTC)")
    source: Literal["sdk", "ingest", "sagemaker", "producer"] | None = None


def parse_label_event(raw: bytes | str) -> LabelEvent:
    """Decode one label event; raises InvalidEventError with a reason a human can act on."""
    try:
        return LabelEvent.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(root)"
        raise InvalidEventError(f"invalid label event: {where}: {first['msg']}") from exc


def class_name(value: object) -> str:
    """The canonical class of a label or prediction: 1, 1.0, "1" and True are all "1".

    A list (multi-label) or an object is no class: InvalidEventError (such pairs are not scored).
    """
    if isinstance(value, list | dict | tuple):
        raise InvalidEventError(f"{type(value).__name__} label {value!r} is not a class")
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isfinite(value) and value == int(value):
            return str(int(value))
        return repr(value)
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        return text
    return class_name(number) if math.isfinite(number) else text


def ground_truth_value(data: str, encoding: str) -> LabelValue:
    """The label inside ``groundTruthData`` (CSV: the first cell; JSON: the decoded value)."""
    if encoding.upper() == "JSON":
        try:
            value = json.loads(data)
        except json.JSONDecodeError as exc:
            raise InvalidEventError(f"groundTruthData.data is not JSON: {exc.msg}") from exc
        if isinstance(value, Mapping) and len(value) == 1:
            value = next(iter(value.values()))
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        if isinstance(value, str | int | float | bool) or (
            isinstance(value, list) and all(isinstance(v, str | int) for v in value)
        ):
            return value
        raise InvalidEventError("groundTruthData.data holds no scalar or list label")
    if encoding.upper() == "CSV":
        cell = data.strip().split(",")[0].strip().strip('"')
        if not cell:
            raise InvalidEventError("groundTruthData.data is empty")
        return _number_or_text(cell)
    raise InvalidEventError(f"groundTruthData.encoding {encoding!r} is not CSV or JSON")


def _number_or_text(cell: str) -> str | int | float:
    try:
        return int(cell)
    except ValueError:
        pass
    try:
        number = float(cell)
    except ValueError:
        return cell
    return number if math.isfinite(number) else cell


def from_ground_truth(record: Mapping[str, Any], model_id: str, label_time: datetime) -> LabelEvent:
    """A SageMaker ground-truth record as a label event (``label_time`` = its upload hour)."""
    try:
        truth = record["groundTruthData"]
        event_id = record["eventMetadata"]["eventId"]
        value = ground_truth_value(str(truth["data"]), str(truth.get("encoding", "CSV")))
    except (KeyError, TypeError) as exc:
        raise InvalidEventError(
            "not a SageMaker ground-truth record: needs groundTruthData.data and "
            "eventMetadata.eventId"
        ) from exc
    try:
        return LabelEvent(
            event_id=f"gt-{event_id}"[:128],
            inference_id=str(event_id),
            model_id=model_id,
            label=value,
            label_time=label_time,
            source="sagemaker",
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InvalidEventError(f"invalid ground-truth record: {first['msg']}") from exc


def to_ground_truth(event: LabelEvent) -> dict[str, Any]:
    """The reverse mapping: a label event as one SageMaker ground-truth record."""
    value = event.label
    if isinstance(value, list | bool):
        truth = {"data": json.dumps(value), "encoding": "JSON"}
    else:
        truth = {
            "data": class_name(value) if not isinstance(value, float) else repr(value),
            "encoding": "CSV",
        }
    return {
        "groundTruthData": truth,
        "eventMetadata": {"eventId": event.inference_id},
        "eventVersion": "0",
    }


_HOUR_FOLDER = re.compile(r"(?:^|/)(\d{4})/(\d{2})/(\d{2})/(\d{2})(?:/|$)")


def upload_hour(path: str) -> datetime | None:
    """The ``yyyy/mm/dd/hh`` folder a ground-truth file sits in, as a UTC time (else None)."""
    found = _HOUR_FOLDER.findall(path)
    if not found:
        return None
    year, month, day, hour = (int(x) for x in found[-1])
    try:
        return datetime(year, month, day, hour, tzinfo=UTC)
    except ValueError:
        return None


def ground_truth_documents(text: str) -> Iterator[tuple[bytes, Any]]:
    """(original bytes, decoded record or the JSONDecodeError) per record of a file.

    A file is JSON Lines, or one JSON array of records (SageMaker accepts both).
    """
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            items = json.loads(stripped)
        except json.JSONDecodeError as exc:
            yield stripped[:4096].encode(), exc
            return
        for item in items:
            yield json.dumps(item).encode(), item
        return
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            yield line.encode(), json.loads(line)
        except json.JSONDecodeError as exc:
            yield line.encode(), exc
