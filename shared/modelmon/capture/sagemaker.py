"""SageMaker data-capture records <-> ``CaptureEvent`` (pure: no I/O, no clock).

A SageMaker record (``captureData``/``eventMetadata``/``eventVersion``, one JSON line of a
capture file) becomes one ``CaptureEvent`` per instance it carries; ``to_sagemaker_record``
writes an event back key for key in SageMaker's shape, so archived files read like
SageMaker's own. See ``schemas/capture-event.schema.json`` for the field mapping.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from modelmon.attribution.clarify import (
    clarify_attributions,
    clarify_predictions,
    is_clarify_response,
)
from modelmon.errors import InvalidEventError
from modelmon.events import CaptureEvent, Outputs, Payload, Scalar

CSV_CONTENT_TYPES = ("text/csv",)
JSON_CONTENT_TYPES = ("application/json",)
_MODELMON_ATTR = "modelmon"


class _SageMaker(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class SageMakerPayload(_SageMaker):
    """``captureData.endpointInput`` / ``endpointOutput`` as SageMaker writes them."""

    observedContentType: str
    mode: Literal["INPUT", "OUTPUT"]
    data: str
    encoding: Literal["CSV", "JSON", "BASE64"]


class SageMakerCaptureData(_SageMaker):
    endpointInput: SageMakerPayload
    endpointOutput: SageMakerPayload | None = None
    batchTransformOutput: SageMakerPayload | None = None


class SageMakerEventMetadata(_SageMaker):
    eventId: str = Field(min_length=1, max_length=128)
    inferenceTime: str = Field(description="ISO-8601 UTC, e.g. 2022-04-18T00:21:48Z")
    inferenceId: str | None = None
    customAttributes: str | None = None
    invocationSource: str | None = None


class SageMakerCaptureRecord(_SageMaker):
    """One line of a SageMaker Model Monitor data-capture file (eventVersion "0")."""

    captureData: SageMakerCaptureData
    eventMetadata: SageMakerEventMetadata
    eventVersion: str = "0"


def is_sagemaker_record(doc: Any) -> bool:
    """True when a decoded JSON document looks like a SageMaker capture record."""
    return isinstance(doc, dict) and "captureData" in doc and "eventMetadata" in doc


# ---------------------------------------------------------------------------- parsing


#: Numbers as SageMaker's analyzer reads them: ASCII digits, optional sign, point and exponent.
#: Python's int()/float() also take "5_0" (50) and non-ASCII digits: those stay text.
_INTEGER_TEXT = re.compile(r"[+-]?[0-9]+")
_DECIMAL_TEXT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


def _scalar(text: str) -> Scalar:
    """A CSV cell as SageMaker's analyzer would type it: int, float, else string; '' is None."""
    if text == "":
        return None
    stripped = text.strip()
    if _INTEGER_TEXT.fullmatch(stripped):
        return int(stripped)
    if not _DECIMAL_TEXT.fullmatch(stripped):
        return text
    value = float(stripped)
    return value if math.isfinite(value) else text


def _names(count: int, feature_names: Sequence[str] | None) -> list[str]:
    given = list(feature_names or ())[:count]
    return given + [f"_c{i}" for i in range(len(given), count)]


def _row(values: Sequence[Any], feature_names: Sequence[str] | None) -> dict[str, Scalar]:
    return dict(zip(_names(len(values), feature_names), (_check(v) for v in values), strict=True))


def _check(value: Any) -> Scalar:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise InvalidEventError(f"feature values must be JSON scalars, got {type(value).__name__}")


def _csv_rows(data: str) -> list[list[str]]:
    return [row for row in csv.reader(io.StringIO(data)) if row]


def parse_inputs(
    payload: SageMakerPayload, feature_names: Sequence[str] | None = None
) -> list[dict[str, Scalar]]:
    """The instances (named feature rows) of an endpointInput payload."""
    encoding, data = _decoded(payload)
    if encoding == "CSV":
        return [_row([_scalar(c) for c in row], feature_names) for row in _csv_rows(data)]
    if encoding != "JSON":
        raise InvalidEventError(
            f"BASE64 payload of {payload.observedContentType!r} carries no readable features"
        )
    return [_instance(i, feature_names) for i in _json_instances(_loads(data))]


def _decoded(payload: SageMakerPayload) -> tuple[str, str]:
    """(encoding, text): BASE64 bodies of a CSV or JSON content type are decoded first."""
    if payload.encoding != "BASE64":
        return payload.encoding, payload.data
    ctype = payload.observedContentType.lower()
    kind = "JSON" if "json" in ctype else "CSV" if "csv" in ctype else "BASE64"
    if kind == "BASE64":
        return kind, payload.data
    try:
        return kind, base64.b64decode(payload.data, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidEventError("BASE64 payload does not decode to UTF-8 text") from exc


def _loads(data: str) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InvalidEventError(f"payload is not valid JSON: {exc}") from exc


def _json_instances(doc: Any) -> list[Any]:
    if isinstance(doc, dict) and isinstance(doc.get("instances"), list):
        return list(doc["instances"])
    if isinstance(doc, dict):
        return [doc]
    if isinstance(doc, list) and doc and all(isinstance(x, dict | list) for x in doc):
        return list(doc)
    return [doc]


def _instance(item: Any, feature_names: Sequence[str] | None) -> dict[str, Scalar]:
    if isinstance(item, dict) and set(item) == {"features"} and isinstance(item["features"], list):
        return _row(item["features"], feature_names)
    if isinstance(item, dict):
        return {str(k): _check(v) for k, v in item.items()}
    if isinstance(item, list):
        return _row(item, feature_names)
    return _row([item], feature_names)


def parse_outputs(payload: SageMakerPayload | None) -> list[Outputs]:
    """The per-instance outputs of an endpointOutput payload (empty when absent)."""
    if payload is None:
        return []
    encoding, data = _decoded(payload)
    if encoding == "CSV":
        return [_csv_output([_scalar(c) for c in row]) for row in _csv_rows(data)]
    if encoding != "JSON":
        return []
    doc = _loads(data)
    if is_clarify_response(doc):  # Clarify online explainability: its inner predictions
        ctype, inner = clarify_predictions(doc)
        kind = "JSON" if "json" in ctype.lower() else "CSV"
        return parse_outputs(
            SageMakerPayload(observedContentType=ctype, mode="OUTPUT", data=inner, encoding=kind)
        )
    if isinstance(doc, dict) and isinstance(doc.get("predictions"), list):
        items: list[Any] = doc["predictions"]
    elif isinstance(doc, list):
        items = doc
    else:
        items = [doc]
    return [_json_output(item) for item in items]


def _csv_output(values: list[Scalar]) -> Outputs:
    if len(values) == 1:
        return Outputs(prediction=values[0])
    return Outputs.model_validate({"prediction": values[0], "values": values})


_LABEL_KEYS = ("predicted_label", "label", "prediction")
_PROB_KEYS = ("probability", "score")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _json_output(item: Any) -> Outputs:
    if not isinstance(item, dict):
        if isinstance(item, list):
            return Outputs.model_validate({"prediction": None, "values": item})
        return Outputs(prediction=_check(item))
    doc = dict(item)
    label = next((doc[k] for k in _LABEL_KEYS if k in doc), None)
    has_label = any(k in doc for k in _LABEL_KEYS)
    extra = {k: v for k, v in doc.items() if k not in (*_LABEL_KEYS, *_PROB_KEYS)}
    probability = doc.get("probability") if _number(doc.get("probability")) else None
    score = doc.get("score") if _number(doc.get("score")) else None
    if score is not None and not has_label and probability is None:
        label = score  # {"score": 0.98} alone: the score is the prediction (SageMaker XGBoost)
    elif score is not None and probability is None:
        probability = score
    try:
        return Outputs.model_validate(
            {**extra, "prediction": _check(label), "probability": probability}
        )
    except ValidationError as exc:
        raise InvalidEventError(f"unreadable model output: {exc.errors()[0]['msg']}") from exc


# ---------------------------------------------------------------------------- mapping


def output_attributions(payload: SageMakerPayload | None) -> list[dict[str, float]]:
    """Per instance, the Clarify online explainability attributions of an endpointOutput."""
    if payload is None:
        return []
    encoding, data = _decoded(payload)
    if encoding != "JSON" or "explanations" not in data:
        return []
    return clarify_attributions(_loads(data))


def parse_record(doc: Any) -> SageMakerCaptureRecord:
    """Validate a decoded SageMaker record; a bad one raises ``InvalidEventError``."""
    try:
        return SageMakerCaptureRecord.model_validate(doc)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise InvalidEventError(f"not a SageMaker capture record: {where}: {err['msg']}") from exc


def parse_time(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidEventError(f"inferenceTime is not ISO-8601: {text!r}") from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def format_time(value: datetime) -> str:
    """SageMaker's inferenceTime: second precision, 'Z'; sub-seconds kept when present."""
    text = value.isoformat()  # events hold UTC already: '...+00:00'
    if text.endswith("+00:00"):
        return text[:-6] + "Z"
    return value.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"


def _extras(meta: SageMakerEventMetadata) -> dict[str, Any]:
    """Fields modelmon stored in customAttributes, plus SageMaker's own metadata strings."""
    extras: dict[str, Any] = {}
    metadata: dict[str, str] = {}
    attrs = meta.customAttributes
    if attrs:
        try:
            doc = orjson.loads(attrs)
        except orjson.JSONDecodeError:
            doc = None
        if isinstance(doc, dict) and isinstance(doc.get(_MODELMON_ATTR), dict):
            extras = dict(doc[_MODELMON_ATTR])
            metadata = dict(extras.pop("metadata", None) or {})
            extras.pop("synthesized", None)
        else:
            metadata["customAttributes"] = attrs
    if meta.invocationSource:
        metadata["invocationSource"] = meta.invocationSource
    if metadata:
        extras["metadata"] = metadata
    return extras


def _synthesized(meta: SageMakerEventMetadata) -> bool:
    """True when modelmon wrote the payloads from structured inputs (no raw body existed)."""
    if not meta.customAttributes or _MODELMON_ATTR not in meta.customAttributes:
        return False
    try:
        doc = orjson.loads(meta.customAttributes)
    except orjson.JSONDecodeError:
        return False
    return isinstance(doc, dict) and bool((doc.get(_MODELMON_ATTR) or {}).get("synthesized"))


def from_sagemaker_record(
    doc: Any,
    *,
    model_id: str,
    variant: str = "AllTraffic",
    feature_names: Sequence[str] | None = None,
) -> list[CaptureEvent]:
    """Map one SageMaker capture record (decoded JSON) to its capture events."""
    record = parse_record(doc)
    data, meta = record.captureData, record.eventMetadata
    output = data.endpointOutput or data.batchTransformOutput
    inputs = parse_inputs(data.endpointInput, feature_names)
    outputs = parse_outputs(output)
    explained = output_attributions(output)  # Clarify online explainability, if any
    extras = _extras(meta)
    synthesized = _synthesized(meta)
    single = len(inputs) == 1
    base_inference = meta.inferenceId or meta.eventId
    events = []
    for i, row in enumerate(inputs):
        suffix = "" if single else f"-{i}"
        doc_event: dict[str, Any] = {
            "event_id": meta.eventId + suffix,
            "model_id": model_id,
            "variant": variant,
            "inference_id": base_inference + suffix,
            "event_time": parse_time(meta.inferenceTime),
            "inputs": row,
            "outputs": outputs[i] if i < len(outputs) else Outputs(),
            "source": "sagemaker",
            **extras,
        }
        if i < len(explained) and explained[i]:
            doc_event["attributions"] = explained[i]
        if single and not synthesized:
            doc_event["request"] = _payload(data.endpointInput)
            doc_event["response"] = _payload(output) if output else None
        try:
            events.append(CaptureEvent.model_validate(doc_event))
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise InvalidEventError(f"capture event invalid: {where}: {err['msg']}") from exc
    return events


def _payload(p: SageMakerPayload) -> Payload:
    return Payload(content_type=p.observedContentType, encoding=p.encoding, data=p.data)


def _csv_line(values: Sequence[Any]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow(["" if v is None else v for v in values])
    return buf.getvalue()


def _json(doc: Any) -> str:
    return orjson.dumps(doc).decode()


def _synth_output(event: CaptureEvent, encoding: str) -> tuple[str, str]:
    if encoding == "CSV":
        out = event.outputs
        value = out.probability if out.probability is not None else out.prediction
        return "text/csv", _csv_line([value])
    return "application/json", event.outputs.model_dump_json(exclude_none=True)


def _sagemaker_payload(mode: str, content_type: str, encoding: str, data: str) -> dict[str, str]:
    """``endpointInput`` / ``endpointOutput``, key for key as SageMaker writes them."""
    return {"observedContentType": content_type, "mode": mode, "data": data, "encoding": encoding}


def to_sagemaker_record(event: CaptureEvent) -> dict[str, Any]:
    """The SageMaker capture record of an event, key for key like SageMaker's files."""
    req, res = event.request, event.response
    if req is not None:
        req_type, req_enc, req_data = req.content_type, req.encoding, req.data
    else:
        req_type, req_enc, req_data = "application/json", "JSON", _json(event.inputs)
    if res is not None:
        res_type, res_enc, res_data = res.content_type, res.encoding, res.data
    else:
        res_enc = "CSV" if req_enc == "CSV" else "JSON"
        res_type, res_data = _synth_output(event, res_enc)
    meta: dict[str, Any] = {
        "eventId": event.event_id,
        "inferenceTime": format_time(event.event_time),
    }
    if event.inference_id and event.inference_id != event.event_id:
        meta["inferenceId"] = event.inference_id
    attrs = {
        k: v
        for k, v in {
            "latency_ms": event.latency_ms,
            "attributions": event.attributions,
            "metadata": event.metadata,
            "source": None if event.source == "sagemaker" else event.source,
            "synthesized": True if event.request is None else None,
        }.items()
        if v is not None
    }
    if attrs:
        meta["customAttributes"] = _json({_MODELMON_ATTR: attrs})
    return {
        "captureData": {
            "endpointInput": _sagemaker_payload("INPUT", req_type, req_enc, req_data),
            "endpointOutput": _sagemaker_payload("OUTPUT", res_type, res_enc, res_data),
        },
        "eventMetadata": meta,
        "eventVersion": "0",
    }
