"""One validator (issue 19, class 7): aggregator, archiver, ingest and SDK give one event one
verdict, for the schema's invalid examples and for a generated corpus of every input class."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import orjson
import pytest
from hypothesis import HealthCheck, given, settings

from capture_corpus import anything
from modelmon.errors import PermanentError
from modelmon.limits import EventTimeBounds, capture_verdict
from modelmon.redaction import RedactionPolicy
from modelmon.streaming.decode import TypedDecoder, decode_batch
from modelmon_services.archiver.service import Archiver
from modelmon_services.ingest.parse import parse_body

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
INVALID = sorted((SCHEMAS / "examples" / "capture-event" / "invalid").glob("*.json"))
VALID = sorted((SCHEMAS / "examples" / "capture-event").glob("*.json"))
NO_BOUNDS = EventTimeBounds(future_ms=2**62, past_ms=2**62)
FEATURES = ("age", "income", "state", "score", "flag")


def verdicts(value: bytes) -> dict[str, bool]:
    """Accepted (True) or refused, by each consumer of capture events."""
    batch, _ = decode_batch([value])
    typed = TypedDecoder("m-a", dict.fromkeys(FEATURES)).decode([value])
    archiver = SimpleNamespace(max_event_bytes=1_048_576, redaction=RedactionPolicy())
    try:
        Archiver.decode(archiver, value)  # type: ignore[arg-type]
        archived = True
    except PermanentError:
        archived = False
    parsed = parse_body(value, "application/json") if value.strip() else None
    return {
        "aggregator": len(batch) == 1,
        # the typed path may decline a good batch (a feature it does not know): then the generic
        # path decides; it must never accept one the generic path refuses
        "aggregator_typed": (typed is not None and len(typed) == 1) or len(batch) == 1,
        "archiver": archived,
        "ingest": parsed is not None and not parsed.errors and len(parsed.events) == 1,
        "sdk": capture_verdict(value, NO_BOUNDS, 0) is None,
    }


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_every_consumer_refuses_the_schemas_invalid_examples(path: Path) -> None:
    assert not any(verdicts(path.read_bytes()).values()), verdicts(path.read_bytes())


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_every_consumer_accepts_the_schemas_examples(path: Path) -> None:
    assert all(verdicts(path.read_bytes()).values()), verdicts(path.read_bytes())


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(anything.filter(lambda m: b"\n" not in m[1] and b"\r" not in m[1]))
def test_one_event_one_verdict(message: tuple[str, bytes]) -> None:
    kind, value = message
    got = verdicts(value)
    assert set(got.values()) == {kind == "good"}, (kind, value[:300], got)


@pytest.mark.parametrize(
    ("field", "value"),
    [("latency_ms", "fast"), ("event_time", 1767225600), ("latency_ms", "5")],
)
def test_the_two_verdicts_issue_19_found_are_one(field: str, value: object) -> None:
    """latency_ms "fast" was counted by the aggregator and dead-lettered by the archiver; an
    integer event_time the other way round."""
    doc = {"model_id": "m-a", "event_time": "2026-01-01T00:00:00Z", "inputs": {"age": 1}}
    assert set(verdicts(orjson.dumps(doc)).values()) == {True}
    doc[field] = value
    assert set(verdicts(orjson.dumps(doc)).values()) == {False}
