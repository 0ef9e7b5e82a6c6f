"""``modelmon capture read``: read the capture archive back (debugging, retraining exports)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import IO, Any

import click
import orjson

from modelmon.events import CaptureEvent


def _time(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not ISO-8601 (e.g. 2026-01-01T10:00:00Z)") from exc
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def flat_row(event: CaptureEvent) -> dict[str, Any]:
    """One table row: ids, times, every input as ``input.<name>``, outputs, latency."""
    row: dict[str, Any] = {
        "event_id": event.event_id,
        "inference_id": event.inference_id,
        "model_id": event.model_id,
        "variant": event.variant,
        "event_time": event.event_time,
        "latency_ms": event.latency_ms,
    }
    row.update({f"input.{k}": v for k, v in event.inputs.items()})
    outputs = event.outputs.model_dump(mode="json", exclude_none=True)
    row.update({f"output.{k}": orjson.dumps(v).decode() if isinstance(v, dict | list) else v
                for k, v in outputs.items()})  # fmt: skip
    return row


def write_parquet(events: list[CaptureEvent], out: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [flat_row(e) for e in events]
    columns = list(dict.fromkeys(k for r in rows for k in r))
    data = {c: [r.get(c) for r in rows] for c in columns}
    table = pa.table({c: _array(pa, v) for c, v in data.items()})
    pq.write_table(table, out)


def _array(pa: Any, values: list[Any]) -> Any:
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed types in a column: keep them as text
        return pa.array([None if v is None else str(v) for v in values])


@click.group("capture")
def capture() -> None:
    """Read the capture archive (SageMaker layout on S3 or disk) back."""


@capture.command("read")
@click.option("--model", required=True, help="model id")
@click.option(
    "--endpoint", default=None,
    help="archive folder; default: the model's registered endpoint_name, else the model id",
)  # fmt: skip
@click.option("--variant", default=None, help="only this variant")
@click.option("--start", default=None, help="from this time (ISO-8601, inclusive)")
@click.option("--end", default=None, help="until this time (ISO-8601, exclusive)")
@click.option("--inference-id", default=None, help="only this inference")
@click.option(
    "--format", "fmt", type=click.Choice(["jsonl", "parquet", "sagemaker"]), default="jsonl",
    show_default=True, help="jsonl: capture events; sagemaker: archived records as stored",
)  # fmt: skip
@click.option("--out", default=None, help="output file (stdout for jsonl when unset)")
@click.option(
    "--source", default=None, help="s3://bucket/prefix or a directory (archive.destination)"
)
@click.option("--feature-names", default=None, help="comma-separated CSV column names")
def read(
    model: str, endpoint: str | None, variant: str | None, start: str | None, end: str | None,
    inference_id: str | None, fmt: str, out: str | None, source: str | None,
    feature_names: str | None,
) -> None:  # fmt: skip
    """Print or export archived captures of one model."""
    from modelmon.archive.codec import load_key
    from modelmon.archive.reader import (
        ArchiveQuery,
        read_events,
        read_records,
        record_matches,
    )
    from modelmon.archive.store import open_store
    from modelmon.settings import Settings

    settings = Settings()
    store, prefix = open_store(settings, source or settings.archiver.destination)
    enc = settings.archiver.encryption_key
    key = load_key(enc.get_secret_value()) if enc else None
    names = feature_names.split(",") if feature_names else settings.capture.feature_names.get(model)
    folder = endpoint or _registered_endpoint(settings, model)
    query = ArchiveQuery(model, variant, _time(start), _time(end), inference_id, names, folder)
    if fmt == "parquet":
        if not out:
            raise click.UsageError("--format parquet needs --out FILE")
        events = list(read_events(store, prefix, query, key))
        write_parquet(events, out)
        click.echo(f"wrote {len(events)} events to {out}", err=True)
        return
    sink: IO[bytes] = open(out, "wb") if out else sys.stdout.buffer  # noqa: SIM115
    count = 0
    try:
        if fmt == "sagemaker":
            for _, record in read_records(store, prefix, query, key):
                if not record_matches(record, query):
                    continue
                sink.write(orjson.dumps(record) + b"\n")
                count += 1
        else:
            for event in read_events(store, prefix, query, key):
                sink.write(event.model_dump_json(exclude_none=True).encode() + b"\n")
                count += 1
    finally:
        if out:
            sink.close()
    click.echo(f"{count} records", err=True)


def _registered_endpoint(settings: Any, model: str) -> str:
    """The registered model's endpoint name; the model id when the registry cannot say."""
    from modelmon.adapters.redis import make_redis
    from modelmon.config import endpoint_name
    from modelmon.errors import ModelmonError
    from modelmon.keys import Keys
    from modelmon.registry import Registry

    client = make_redis(settings.redis)
    try:
        entry = Registry(client, Keys(settings.redis.key_prefix)).get(model)
    except ModelmonError as exc:
        click.echo(
            f"model registry not reachable ({type(exc).__name__}): reading the folder named "
            f"after the model id; pass --endpoint NAME if its endpoint_name differs",
            err=True,
        )
        return model
    finally:
        client.close()
    return endpoint_name(model, entry.config if entry else None)
