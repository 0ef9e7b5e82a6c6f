"""``modelmon labels``: bring ground truth in (``import``) and join it to captures (``merge``).

``import`` reads SageMaker ground-truth files (JSON Lines or a JSON array, ``yyyy/mm/dd/hh``
folders, local or ``s3://``) and produces one label event per record to ``modelmon.labels.v1``
(key = inference id) — or writes them as NDJSON with ``--out``. A record that is not a valid
ground-truth record goes to the dead-letter topic with its reason (with ``--out``: reported).
``merge`` is SageMaker's merge job: captures + ground truth -> merged records per hour.
"""

from __future__ import annotations

import hashlib
import json
import sys
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from modelmon.cli.baseline import fail, output_dir, s3_client_factory
from modelmon.cli.options import data_option, time_option
from modelmon.errors import InvalidEventError, ModelmonError


@click.group()
def labels() -> None:
    """Import ground truth and merge it with captures (SageMaker's formats)."""


def _sources(paths: list[str]) -> list[Any]:
    from modelmon.readers.sources import list_sources

    return list_sources(paths, s3_client=s3_client_factory())


def _label_events(
    paths: list[str], model: str, default_time: datetime, reject: Callable[[bytes, Exception], None]
) -> Iterator[Any]:
    from modelmon.quality.labels import from_ground_truth, ground_truth_documents, upload_hour

    for source in _sources(paths):
        when = upload_hour(source.name) or default_time
        for original, doc in ground_truth_documents(source.read_bytes().decode("utf-8")):
            if isinstance(doc, Exception):
                reject(original, InvalidEventError(f"{source.name}: not JSON: {doc}"))
                continue
            try:
                yield from_ground_truth(doc, model, when)
            except InvalidEventError as exc:
                reject(original, InvalidEventError(f"{source.name}: {exc}"))


@labels.command(name="import")
@data_option("Ground-truth folder or s3://bucket/prefix (repeatable).", "--from", "sources")
@click.option("--model", required=True, help="The model (endpoint) the labels belong to.")
@click.option("--out", default=None, help="Write label events as NDJSON here instead of Kafka.")
@time_option(
    "--label-time",
    "label_time",
    "Label time for files outside yyyy/mm/dd/hh folders (default: now).",
)
def import_labels(
    sources: tuple[str, ...], model: str, out: str | None, label_time: datetime | None
) -> None:
    """Import SageMaker ground-truth files as label events."""
    import re

    from modelmon.events import MODEL_ID_PATTERN

    if not re.match(MODEL_ID_PATTERN, model):
        fail("labels import", ValueError(f"--model {model!r} is not a valid model id"))
    when = label_time or datetime.now(UTC)
    try:
        if out is not None:
            sent, rejected = _import_to_file(list(sources), model, when, Path(out))
        else:
            sent, rejected = _import_to_kafka(list(sources), model, when)
    except (ModelmonError, OSError, click.ClickException) as exc:
        fail("labels import", exc)
    click.echo(
        f"{sent} label(s) imported, {rejected} rejected"
        + (f" (see {out})" if out and not rejected else "")
    )
    sys.exit(1 if rejected and not sent else 0)


def _import_to_file(paths: list[str], model: str, when: datetime, out: Path) -> tuple[int, int]:
    rejected: list[str] = []

    def reject(original: bytes, error: Exception) -> None:
        rejected.append(str(error))
        click.echo(f"rejected: {error}", err=True)

    out.parent.mkdir(parents=True, exist_ok=True)
    sent = 0
    with out.open("w", encoding="utf-8") as fh:
        for event in _label_events(paths, model, when, reject):
            fh.write(event.model_dump_json(exclude_none=True) + "\n")
            sent += 1
    return sent, len(rejected)


def _import_to_kafka(paths: list[str], model: str, when: datetime) -> tuple[int, int]:
    from prometheus_client import CollectorRegistry

    from modelmon.adapters.kafka import make_producer
    from modelmon.service import DeadLetters
    from modelmon.settings import Settings

    settings = Settings()
    producer = make_producer(settings.kafka)

    def produce(topic: str, key: bytes | None, value: bytes) -> None:
        producer.produce(topic, key=key, value=value)
        producer.poll(0)

    dead = DeadLetters(produce, settings.topics.deadletter, "labels-import", CollectorRegistry())
    rejected = 0

    def reject(original: bytes, error: Exception) -> None:
        nonlocal rejected
        rejected += 1
        dead.send(original, error, model_id=model)
        click.echo(f"dead-lettered: {error}", err=True)

    sent = 0
    for event in _label_events(paths, model, when, reject):
        produce(
            settings.topics.labels, event.inference_id.encode(), event.model_dump_json().encode()
        )
        sent += 1
    if producer.flush(30) > 0:
        raise click.ClickException("Kafka did not acknowledge every label within 30 s")
    return sent, rejected


@labels.command()
@data_option(
    "Capture archive folder or s3://bucket/prefix (SageMaker capture records).",
    "--captures",
    "captures",
)
@data_option("Ground-truth folder or s3://bucket/prefix.", "--labels", "label_paths")
@click.option("--out", required=True, help="Folder (or s3://bucket/prefix/) for merged records.")
def merge(captures: tuple[str, ...], label_paths: tuple[str, ...], out: str) -> None:
    """Join captures to ground truth by inference id (SageMaker's merge job)."""
    from modelmon.quality.labels import ground_truth_documents
    from modelmon.quality.merge import MergeCounts, index_labels, merge_records

    counts = MergeCounts()
    try:
        truth = (
            doc
            for source in _sources(list(label_paths))
            for _, doc in ground_truth_documents(source.read_bytes().decode("utf-8"))
            if isinstance(doc, dict)
        )
        index = index_labels(truth, counts)
        records = (
            doc
            for source in _sources(list(captures))
            for _, doc in ground_truth_documents(source.read_bytes().decode("utf-8"))
            if isinstance(doc, dict)
        )
        by_hour: dict[datetime | None, list[str]] = defaultdict(list)
        for hour, record in merge_records(records, index, counts):
            by_hour[hour].append(json.dumps(record, separators=(",", ":")))
        with output_dir(out) as target:
            written = [
                _write_hour(target, hour, lines)
                for hour, lines in sorted(
                    by_hour.items(), key=lambda kv: kv[0] or datetime.min.replace(tzinfo=UTC)
                )
            ]
    except (ModelmonError, OSError, click.ClickException) as exc:
        fail("labels merge", exc)
    click.echo(
        f"{counts.merged} merged, {counts.unlabelled} capture(s) without label, "
        f"{counts.unmatched_labels} label(s) without capture, {counts.duplicate_labels} "
        f"duplicate label(s), {len(counts.bad_records)} bad record(s); {len(written)} file(s)"
    )


def _write_hour(target: Path, hour: datetime | None, lines: list[str]) -> Path:
    """part-00000-<uuid>.c000.jsonl under yyyy/mm/dd/hh; the uuid is a hash of the content."""
    body = "\n".join(lines) + "\n"
    name = uuid.UUID(bytes=hashlib.sha256(body.encode()).digest()[:16], version=4)
    folder = target / (f"{hour:%Y/%m/%d/%H}" if hour else "unknown-hour")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"part-00000-{name}.c000.jsonl"
    path.write_text(body, encoding="utf-8")
    return path
