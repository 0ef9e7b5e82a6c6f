"""Generate the JSON Schemas (2020-12) in this directory from modelmon's pydantic models.

The models in ``modelmon.events`` / ``modelmon.config`` and these files are twins:
``tests/unit/test_schemas.py`` fails when a committed schema differs from what the model
generates today. After an (additive) model change, regenerate and commit:

    .venv/bin/python schemas/generate.py
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from modelmon.bias.config import BiasConfig
from modelmon.capture.sagemaker import SageMakerCaptureRecord
from modelmon.config import ModelConfig
from modelmon.events import (
    AlertEvent,
    CaptureEvent,
    DeadLetterRecord,
    WindowEvaluated,
    WindowResult,
)
from modelmon.quality.labels import LabelEvent

DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_DIR = Path(__file__).resolve().parent

CAPTURE_MAPPING = """

Mapping from a SageMaker data-capture record (one JSON line of
s3://{DestinationS3Uri}/{endpoint}/{variant}/yyyy/mm/dd/hh/*.jsonl; see
schemas/sagemaker-capture-record.schema.json), as done by modelmon.capture.sagemaker:
- model_id <- the endpoint name (given by the caller or the archive path);
  variant <- the variant name (default AllTraffic).
- event_id <- eventMetadata.eventId; inference_id <- eventMetadata.inferenceId, else the
  event id. A record carrying k > 1 instances becomes k events with ids '{eventId}-{i}'.
- event_time <- eventMetadata.inferenceTime (ISO-8601 UTC).
- inputs <- captureData.endpointInput.data parsed by its encoding: CSV rows are named by the
  model config's feature names, else _c0.._cN like SageMaker; JSON may be a flat object,
  {"instances": [...]}, {"features": [...]} or a list of rows.
- outputs <- captureData.endpointOutput.data (CSV: the prediction; JSON: {"predictions": [...]}
  with predicted_label/label -> prediction, score/probability -> probability).
- request/response <- endpointInput/endpointOutput verbatim (observedContentType ->
  content_type, encoding, data), kept when the record holds one instance.
- latency_ms, attributions, metadata <- eventMetadata.customAttributes when it holds
  modelmon's JSON ({"modelmon": {...}}); any other customAttributes string is kept as
  metadata.customAttributes. source = "sagemaker".
The archiver writes the reverse mapping (modelmon.capture.sagemaker.to_sagemaker_record)."""

LABEL_MAPPING = """

Mapping from a SageMaker ground-truth record (one JSON line, or one element of a JSON array, of
s3://{GroundTruthS3Uri}/yyyy/mm/dd/hh/*.jsonl), as done by modelmon.quality.labels:
- inference_id <- eventMetadata.eventId (SageMaker joins it to the capture's inferenceId, else
  its eventId); event_id <- 'gt-' + eventMetadata.eventId.
- label <- groundTruthData.data by its encoding: CSV -> the first cell (an integer, a number or
  text); JSON -> the decoded value (a one-key object or a one-element list is unwrapped).
- model_id <- given by the caller (the endpoint the labels belong to).
- label_time <- the yyyy/mm/dd/hh folder the file was uploaded under (else the caller's time).
- source = "sagemaker"."""

#: file stem -> (model, extra description appended to the model's docstring)
MODELS: dict[str, tuple[type[BaseModel], str]] = {
    "capture-event": (CaptureEvent, CAPTURE_MAPPING),
    "dead-letter-record": (DeadLetterRecord, ""),
    "alert-event": (AlertEvent, ""),
    "window-evaluated": (WindowEvaluated, ""),
    "window-result": (WindowResult, ""),
    "model-config": (ModelConfig, ""),
    "label-event": (LabelEvent, LABEL_MAPPING),
    "sagemaker-capture-record": (SageMakerCaptureRecord, ""),
    "bias-config": (BiasConfig, ""),
}


def schema_id(stem: str) -> str:
    return f"urn:modelmon:schema:{stem}:v1"


def build(stem: str) -> dict[str, Any]:
    """The schema of one model, with the 2020-12 dialect and a stable ``$id``."""
    model, extra = MODELS[stem]
    body = model.model_json_schema(mode="validation")
    body["description"] = body.get("description", "").strip() + extra
    return {"$schema": DIALECT, "$id": schema_id(stem), **body}


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    for stem in MODELS:
        path = SCHEMA_DIR / f"{stem}.schema.json"
        path.write_text(render(build(stem)), encoding="utf-8")
        print(f"wrote {path.relative_to(SCHEMA_DIR.parent)}")


if __name__ == "__main__":
    main()
