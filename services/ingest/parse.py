"""Request bodies -> capture events (pure): one JSON event, a JSON array, or NDJSON lines.

Each document is a modelmon capture event or a SageMaker capture record (mapped with the
model id given in the query). Errors say which line and what was wrong.
"""

from __future__ import annotations

from collections.abc import Container, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import ValidationError

from modelmon.capture.sagemaker import from_sagemaker_record, is_sagemaker_record
from modelmon.errors import InvalidEventError, ModelmonError
from modelmon.events import CaptureEvent
from modelmon.limits import EventTimeBounds, epoch_ms
from modelmon.streaming.poison import DECODE_ERRORS, reason, reason_code
from modelmon.validation import check_capture

NDJSON_TYPES = (
    "application/x-ndjson",
    "application/jsonl",
    "application/jsonlines",
    "application/ndjson",
)


@dataclass(frozen=True)
class LineError:
    line: int
    error: str
    raw: bytes


@dataclass
class Parsed:
    events: list[tuple[int, CaptureEvent]]
    errors: list[LineError]
    documents: int
    raw: dict[int, bytes] = field(default_factory=dict)

    def reject_unknown(self, known: Container[str]) -> None:
        """Move events of models not in ``known`` to the errors (one per line)."""
        kept, bad_lines = [], set()
        for line, event in self.events:
            if event.model_id in known:
                kept.append((line, event))
            elif line not in bad_lines:
                bad_lines.add(line)
                msg = f"model {event.model_id!r} is not registered (modelmon model register)"
                self.errors.append(LineError(line, msg, self.raw.get(line, b"")))
        self.events = [(ln, e) for ln, e in kept if ln not in bad_lines]
        self.errors.sort(key=lambda e: e.line)

    def reject_out_of_bounds(self, bounds: EventTimeBounds, now_ms: int) -> None:
        """Move events dated outside the horizons to the errors (issue 19: at the edge)."""
        kept = []
        for line, event in self.events:
            problem = bounds.problem(epoch_ms(event.event_time), now_ms)
            if problem is None:
                kept.append((line, event))
            else:
                self.errors.append(LineError(line, problem, self.raw.get(line, b"")))
        self.events = kept
        self.errors.sort(key=lambda e: e.line)


def split_documents(body: bytes, content_type: str) -> list[tuple[int, bytes]]:
    """(line number, bytes) of each document: NDJSON by line, else one JSON document."""
    media = content_type.split(";", 1)[0].strip().lower()
    stripped = body.strip()
    if media in NDJSON_TYPES or (
        b"\n" in stripped and not stripped.startswith(b"[") and _multi(stripped)
    ):
        return [(i + 1, line) for i, line in enumerate(body.split(b"\n")) if line.strip()]
    return [(1, body)]


def _multi(body: bytes) -> bool:
    """A body of several JSON lines sent as application/json is read as NDJSON too."""
    try:
        orjson.loads(body)
    except orjson.JSONDecodeError:
        return True
    return False


def _event(
    doc: Any, model: str | None, variant: str, names: Sequence[str] | None
) -> list[CaptureEvent]:
    if is_sagemaker_record(doc):
        if not model:
            raise InvalidEventError(
                "a SageMaker capture record needs ?model=ID (the endpoint name)"
            )
        return from_sagemaker_record(doc, model_id=model, variant=variant, feature_names=names)
    if not isinstance(doc, dict):
        raise InvalidEventError(f"expected a JSON object, got {type(doc).__name__}")
    problem = check_capture(orjson.dumps({"source": "ingest", **doc}))  # the one validator
    if problem is not None:
        raise InvalidEventError(problem)
    try:
        event = CaptureEvent.model_validate({"source": "ingest", **doc})
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "event"
        raise InvalidEventError(f"{where}: {err['msg']}") from exc
    return [event]


def parse_body(
    body: bytes,
    content_type: str,
    *,
    model: str | None = None,
    variant: str = "AllTraffic",
    feature_names: dict[str, list[str]] | None = None,
    max_event_bytes: int = 1_048_576,
) -> Parsed:
    """Every event of a request body, and every problem with its line number."""
    out = Parsed(events=[], errors=[], documents=0)
    names = (feature_names or {}).get(model or "")
    for line, raw in split_documents(body, content_type):
        out.documents += 1
        out.raw[line] = raw
        if len(raw) > max_event_bytes:
            out.errors.append(
                LineError(
                    line, f"event of {len(raw)} bytes exceeds the limit of {max_event_bytes}", raw
                )
            )
            continue
        try:
            doc = orjson.loads(raw)
            docs = doc if isinstance(doc, list) and line == 1 and len(out.events) == 0 else [doc]
            for item in docs:
                out.events.extend((line, e) for e in _event(item, model, variant, names))
        except orjson.JSONDecodeError as exc:
            out.errors.append(LineError(line, f"invalid JSON: {exc}", raw))
        except ModelmonError as exc:
            out.errors.append(LineError(line, str(exc), raw))
        except DECODE_ERRORS as exc:  # e.g. nesting orjson reads but cannot write (issue 19)
            out.errors.append(LineError(line, reason(reason_code(exc), exc), raw))
    return out
