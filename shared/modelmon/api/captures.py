"""A sample of a model's recent captures, read back from the archive (redacted as archived).

The archiver applies the capture redaction policy before anything is written, so what the API
shows is exactly what the archive holds, never the raw request. Reading is bounded: only the
newest ``max_files`` archive files of the range are opened (each partition rolls files of its
own, so the newest events may sit in any of them), then the newest ``limit`` events by event
time are kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from modelmon.archive.codec import iter_lines, unpack
from modelmon.archive.layout import parse_key
from modelmon.archive.reader import ArchiveQuery, archive_files
from modelmon.archive.store import ArchiveStore
from modelmon.capture.sagemaker import from_sagemaker_record
from modelmon.events import CaptureEvent

MAX_FILES = 12


@dataclass(frozen=True)
class CaptureSource:
    """Where the archive is (the archiver's destination) and how to read it."""

    store: ArchiveStore
    prefix: str
    key: bytes | None = None
    feature_names: dict[str, list[str]] = field(default_factory=dict)


def recent_captures(
    source: CaptureSource, model_id: str, folder: str, start: datetime | None,
    end: datetime | None, limit: int, max_files: int = MAX_FILES,
) -> list[CaptureEvent]:  # fmt: skip
    """The newest ``limit`` archived events of the model in [start, end), oldest first."""
    names: Sequence[str] | None = source.feature_names.get(model_id)
    query = ArchiveQuery(model_id, None, start, end, None, names, folder)
    keys = list(archive_files(source.store, source.prefix, query))
    found: dict[str, CaptureEvent] = {}
    for file_key in reversed(keys[-max_files:]):
        parsed = parse_key(file_key)
        assert parsed is not None  # archive_files yields parsed keys only
        body = unpack(
            source.store.get(file_key), gzip=parsed.gzip, encrypted=parsed.encrypted,
            key=source.key,
        )  # fmt: skip
        for record in iter_lines(body):
            for event in from_sagemaker_record(
                record, model_id=model_id, variant=parsed.variant, feature_names=names
            ):
                if (start is None or event.event_time >= start) and (
                    end is None or event.event_time < end
                ):
                    found.setdefault(event.event_id, event)
    newest = sorted(found.values(), key=lambda e: (e.event_time, e.event_id))
    return newest[-limit:]
