"""Read the capture archive back: files of one model, a time range, an inference id."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from modelmon.archive.codec import iter_lines, unpack
from modelmon.archive.layout import parse_key
from modelmon.archive.store import ArchiveStore
from modelmon.capture.sagemaker import from_sagemaker_record, parse_time
from modelmon.events import CaptureEvent
from modelmon.names import check_name


@dataclass(frozen=True)
class ArchiveQuery:
    """What to read: one model, optionally a variant, [start, end) and an inference id.

    The model's files sit in the folder named by its endpoint name (``endpoint``; the model id
    when unset, as ``modelmon.config.endpoint_name`` rules); events read back carry ``model``.
    """

    model: str
    variant: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    inference_id: str | None = None
    feature_names: Sequence[str] | None = None
    endpoint: str | None = None

    @property
    def folder(self) -> str:
        return self.endpoint or self.model

    def __post_init__(self) -> None:
        check_name(self.model, "model id")
        if self.variant is not None:
            check_name(self.variant, "variant")


def _hour(t: datetime) -> datetime:
    return t.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def archive_files(store: ArchiveStore, prefix: str, query: ArchiveQuery) -> Iterator[str]:
    """Keys of the capture files that may hold events of the query (by hour folder)."""
    base = "/".join(p for p in (prefix.strip("/"), query.folder) if p) + "/"
    if query.variant:
        base += query.variant + "/"
    for key in store.list(base):
        parsed = parse_key(key)
        if parsed is None or parsed.model != query.folder:
            continue
        if query.start and parsed.hour < _hour(query.start):
            continue
        if query.end and parsed.hour >= query.end:
            continue
        yield key


def read_records(
    store: ArchiveStore, prefix: str, query: ArchiveQuery, key: bytes | None = None
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(file key, SageMaker record) for every archived line of the query's files."""
    for file_key in archive_files(store, prefix, query):
        parsed = parse_key(file_key)
        assert parsed is not None
        body = unpack(store.get(file_key), gzip=parsed.gzip, encrypted=parsed.encrypted, key=key)
        for record in iter_lines(body):
            yield file_key, record


def read_events(
    store: ArchiveStore,
    prefix: str,
    query: ArchiveQuery,
    key: bytes | None = None,
    dedupe: bool = True,
) -> Iterator[CaptureEvent]:
    """The archived events of the query, in file order; duplicates (same event id) once."""
    seen: set[str] = set()
    for file_key, record in read_records(store, prefix, query, key):
        parsed = parse_key(file_key)
        assert parsed is not None
        for event in from_sagemaker_record(
            record,
            model_id=query.model,
            variant=parsed.variant,
            feature_names=query.feature_names,
        ):
            if dedupe and event.event_id in seen:
                continue
            seen.add(event.event_id)
            if _wanted(event, query):
                yield event


def _wanted(event: CaptureEvent, query: ArchiveQuery) -> bool:
    if query.start and event.event_time < query.start:
        return False
    if query.end and event.event_time >= query.end:
        return False
    return not (query.inference_id and event.inference_id != query.inference_id)


def record_matches(record: dict[str, Any], query: ArchiveQuery) -> bool:
    """Whether an archived SageMaker record is in the query's time range and inference id."""
    meta = record.get("eventMetadata") or {}
    if query.inference_id and meta.get("inferenceId", meta.get("eventId")) != query.inference_id:
        return False
    if query.start or query.end:
        t = parse_time(str(meta.get("inferenceTime", "")))
        if (query.start and t < query.start) or (query.end and t >= query.end):
            return False
    return True


def hours(start: datetime, end: datetime) -> list[datetime]:
    """The hour folders [start, end) spans (for reports and tests)."""
    out, t = [], _hour(start)
    while t < end:
        out.append(t)
        t += timedelta(hours=1)
    return out
