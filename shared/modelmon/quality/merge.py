"""The batch join of captures and ground truth, in SageMaker's merged-record layout.

SageMaker's merge job joins each capture record to the ground-truth record whose
``eventMetadata.eventId`` equals the capture's ``inferenceId`` (else its ``eventId``) and writes
``{"eventMetadata", "eventVersion", "groundTruthData", "captureData"}`` per line under
``merge/.../yyyy/mm/dd/hh/``. Here the hour is the capture's inference hour. For one inference
the first ground-truth record read wins (files in path order, so the earliest upload hour);
later ones are counted as duplicates, as the streaming join does.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from modelmon.capture.sagemaker import parse_time


@dataclass
class MergeCounts:
    """What the merge did: every capture is merged or unlabelled; every label is used or not."""

    captures: int = 0
    labels: int = 0
    merged: int = 0
    unlabelled: int = 0
    duplicate_labels: int = 0
    unmatched_labels: int = 0
    bad_records: list[str] = field(default_factory=list)


def capture_join_key(record: Mapping[str, Any]) -> str | None:
    meta = record.get("eventMetadata") or {}
    key = meta.get("inferenceId") or meta.get("eventId")
    return str(key) if key else None


def index_labels(
    records: Iterable[Mapping[str, Any]], counts: MergeCounts
) -> dict[str, Mapping[str, Any]]:
    """Ground-truth records by event id; the first one per id wins."""
    index: dict[str, Mapping[str, Any]] = {}
    for record in records:
        counts.labels += 1
        try:
            key = str(record["eventMetadata"]["eventId"])
            record["groundTruthData"]["data"]
        except (KeyError, TypeError):
            counts.bad_records.append("ground-truth record without eventMetadata.eventId/data")
            continue
        if key in index:
            counts.duplicate_labels += 1
        else:
            index[key] = record
    return index


def merge_records(
    captures: Iterable[Mapping[str, Any]], labels: dict[str, Mapping[str, Any]], counts: MergeCounts
) -> Iterator[tuple[datetime | None, dict[str, Any]]]:
    """(inference hour, merged record) per capture that has a label; counts the rest."""
    used: set[str] = set()
    for capture in captures:
        counts.captures += 1
        key = capture_join_key(capture)
        truth = labels.get(key) if key else None
        if truth is None or "captureData" not in capture:
            counts.unlabelled += 1
            continue
        used.add(key)  # type: ignore[arg-type]
        counts.merged += 1
        meta = dict(capture.get("eventMetadata") or {})
        try:
            hour = parse_time(str(meta["inferenceTime"])).replace(minute=0, second=0, microsecond=0)
        except (KeyError, ValueError):
            hour = None
        yield (
            hour,
            {
                "eventMetadata": meta,
                "eventVersion": capture.get("eventVersion", "0"),
                "groundTruthData": dict(truth["groundTruthData"]),
                "captureData": capture["captureData"],
            },
        )
    counts.unmatched_labels = len(set(labels) - used)
