"""``modelmon alerts tail``: follow the alerts topic, one readable line (or JSON) per alert.

It reads with a fresh consumer group that never commits, so it can run next to the alerting
service (and any number of other tails) without moving anyone's offsets.
"""

from __future__ import annotations

import functools
import uuid
from typing import Any

import click


@click.group()
def alerts() -> None:
    """Follow the alerts topic (``modelmon.alerts.v1``)."""


@alerts.command()
@click.option("--model", "model_id", help="Only this model's alerts.")
@click.option("--json", "as_json", is_flag=True, help="Print each event as one JSON line.")
@click.option("--from-beginning", is_flag=True, help="Start at the oldest retained event.")
@click.option("--windows", is_flag=True, help="Also print one line per evaluated window.")
@click.option("--topic", help="Default: the settings' alerts topic.")
@click.option("--max", "max_count", type=int, help="Exit after printing this many lines.")
@click.option("--idle-exit", type=float, help="Exit after this many seconds with no event.")
def tail(
    model_id: str | None,
    as_json: bool,
    from_beginning: bool,
    windows: bool,
    topic: str | None,
    max_count: int | None,
    idle_exit: float | None,
) -> None:
    """Print alerts as they arrive: state, model, check, feature, value vs threshold, window.

    Exits 1 with one line when Kafka does not answer (at start, or when every broker is lost).
    """
    from confluent_kafka import KafkaError

    from modelmon.adapters.kafka import make_consumer
    from modelmon.cli.reach import fail, kafka_down, quiet_kafka, require_kafka
    from modelmon.settings import Settings

    settings = Settings()
    require_kafka("alerts", settings.kafka)
    lost: list[KafkaError] = []

    def on_error(err: KafkaError) -> None:
        if err.code() == KafkaError._ALL_BROKERS_DOWN:
            lost.append(err)

    consumer = make_consumer(
        settings.kafka,
        f"modelmon-alerts-tail-{uuid.uuid4().hex[:12]}",
        **{"auto.offset.reset": "earliest" if from_beginning else "latest"},
        **quiet_kafka(on_error),
    )
    consumer.subscribe([topic or settings.topics.alerts])
    printed, idle = 0, 0.0
    try:
        while max_count is None or printed < max_count:
            msg = consumer.poll(0.5)
            if lost:
                consumer.close()
                fail("alerts", kafka_down(settings.kafka))
            if msg is None or msg.error() is not None:
                idle += 0.5
                if idle_exit is not None and idle >= idle_exit:
                    break
                continue
            idle = 0.0
            line = _line(msg.value() or b"", model_id, as_json, windows)
            if line is not None:
                click.echo(line)
                printed += 1
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()


@functools.cache
def _decoder() -> Any:
    from pydantic import TypeAdapter

    from modelmon.events import AlertsTopicEvent

    return TypeAdapter(AlertsTopicEvent)


def _line(raw: bytes, model_id: str | None, as_json: bool, windows: bool) -> str | None:
    """The line to print for one message, or None to skip it."""
    from pydantic import ValidationError

    from modelmon.alerting.formatting import headline, window_line
    from modelmon.events import AlertEvent, WindowEvaluated

    try:
        event = _decoder().validate_json(raw)
    except ValidationError:
        click.echo(f"skipping a message that is not an alerts-topic event: {raw[:80]!r}", err=True)
        return None
    if model_id is not None and event.model_id != model_id:
        return None
    if isinstance(event, WindowEvaluated) and not windows:
        return None
    if as_json:
        return str(event.model_dump_json())
    if isinstance(event, AlertEvent):
        return (
            f"{event.detected_at:%Y-%m-%dT%H:%M:%SZ} {event.severity.upper():8} {headline(event)}"
        )
    return window_line(event)
