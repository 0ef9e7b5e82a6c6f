"""``CaptureClient.label()``: label events on the labels topic, keyed by inference id."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from modelmon.capture import CaptureClient
from modelmon.quality.labels import LabelEvent
from modelmon.settings import Settings

from .test_archiver import consume_all


def test_labels_from_the_sdk_are_valid_label_events(
    settings: Settings, new_topic: Callable[..., str], consumer_group: str,
    eventually: Callable[..., Any],
) -> None:  # fmt: skip
    topic = new_topic(2)
    cfg = settings.model_copy(
        update={"topics": settings.topics.model_copy(update={"labels": topic})}
    )
    client = CaptureClient("churn", settings=cfg)
    when = datetime(2026, 1, 2, 3, tzinfo=UTC)
    assert client.label("inf-1", 1, label_time=when) is not None
    assert client.label("inf-2", "yes") is not None
    assert client.label("inf-3", [1, 2]) is not None
    assert client.label("inf-4", {"not": "a label"}) is not None  # type: ignore[arg-type]
    assert client.flush(30) == 0
    client.close()
    messages = consume_all(cfg, topic, consumer_group, 4, eventually)
    events = {}
    for m in messages:
        try:
            events[m.key()] = LabelEvent.model_validate_json(m.value())
        except ValueError:
            events[m.key()] = None  # the schema refuses an object label: the join dead-letters it
    assert events[b"inf-1"] is not None and events[b"inf-1"].label_time == when
    assert events[b"inf-2"] is not None and events[b"inf-2"].source == "sdk"
    assert events[b"inf-3"] is not None and events[b"inf-3"].label == [1, 2]
    assert events[b"inf-4"] is None
