"""One validator of capture events: the capture-event schema's rules as one msgspec struct (pure).

``schemas/capture-event.schema.json`` (generated from ``events.CaptureEvent``) is the source of
truth; ``CaptureStruct`` states the same rules for msgspec, so that the aggregator (which must
decode ~250k events/s and cannot afford pydantic), the archiver, ingest and the SDK give one
event one verdict: ``check_capture`` is what they all call, ``tests/unit/test_one_validator.py``
feeds the schema's invalid examples and a generated corpus to all of them and asserts equal
verdicts. Rules beyond the JSON Schema that every consumer enforces alike: the bytes are UTF-8,
typed numbers are finite (``1e999`` is out of range) and integers fit 64 bits, and
``event_time`` is an RFC 3339 string with a zone (never a number). Consumers that also build
the pydantic ``CaptureEvent`` call this first, so pydantic's laxer coercions ("5" as a number)
never decide a verdict.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Final, Literal

import msgspec

from modelmon.names import NAME_PATTERN_PY
from modelmon.streaming.poison import DECODE_ERRORS, reason, reason_code

#: Integers a feature value may hold: signed 64 bits (a Java long), as any consumer can read.
Int64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
Scalar = str | Int64 | float | bool | None
_Id = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
#: Model ids and variants become paths and keys: the one name pattern (``\Z``: no trailing newline).
_Name = Annotated[str, msgspec.Meta(pattern=NAME_PATTERN_PY)]


class PayloadStruct(msgspec.Struct, frozen=True, forbid_unknown_fields=True, gc=False):
    content_type: str
    encoding: Literal["CSV", "JSON", "BASE64"]
    data: str


class OutputsStruct(msgspec.Struct, frozen=True, gc=False):
    """Named outputs beyond these three are allowed (their values are any JSON)."""

    prediction: Scalar = None
    probability: float | None = None
    scores: dict[str, float] | None = None


#: The fields of a capture event besides model_id, event_time and inputs, as (name, type,
#: default) for ``msgspec.defstruct``: the aggregator's per-model typed decoders use them too.
OTHER_FIELDS: Final[list[tuple[str, Any, Any]]] = [
    ("schema_version", Literal[1], 1),
    ("event_id", _Id | None, None),
    ("variant", _Name, "AllTraffic"),
    ("inference_id", Annotated[str, msgspec.Meta(max_length=256)] | None, None),
    ("outputs", OutputsStruct | None, None),
    ("latency_ms", Annotated[float, msgspec.Meta(ge=0)] | None, None),
    ("attributions", dict[str, float] | None, None),
    ("metadata", dict[str, str] | None, None),
    ("request", PayloadStruct | None, None),
    ("response", PayloadStruct | None, None),
    ("source", Literal["sdk", "proxy", "ingest", "sagemaker"] | None, None),
]

ModelIdText = _Name
UtcDatetime = Annotated[datetime, msgspec.Meta(tz=True)]

CaptureStruct: type[Any] = msgspec.defstruct(
    "CaptureStruct",
    [("model_id", ModelIdText), ("event_time", UtcDatetime), ("inputs", dict[str, Scalar]),
     *OTHER_FIELDS],
    forbid_unknown_fields=True, frozen=True, gc=False,
)  # fmt: skip

_DECODE = msgspec.json.Decoder(CaptureStruct).decode


def decode_capture(value: bytes) -> Any:
    """The event as a ``CaptureStruct``; raises one of ``DECODE_ERRORS`` when it breaks a rule."""
    return _DECODE(value)


def check_capture(value: bytes, max_bytes: int | None = None) -> str | None:
    """None when ``value`` is a valid capture event, else the reason (``code: detail``)."""
    if max_bytes is not None and len(value) > max_bytes:
        return reason("oversize", f"event of {len(value)} bytes exceeds the limit of {max_bytes}")
    try:
        decode_capture(value)
    except DECODE_ERRORS as exc:
        return reason(reason_code(exc), f"not a valid capture event: {exc}")
    return None
