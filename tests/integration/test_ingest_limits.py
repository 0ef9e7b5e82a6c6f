"""What one ingest request may cost (issue 19, class 6), on the real stack: a large body is
parsed off the event loop (health probes are answered meanwhile), a body of 200,000 bad lines
costs 21 dead letters, and events dated outside the horizons are refused at the edge."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest
from prometheus_client import CollectorRegistry

from modelmon.adapters.kafka import make_producer
from modelmon.events import DeadLetterRecord
from modelmon.limits import EventTimeBounds
from modelmon.redaction import RedactionPolicy
from modelmon.service import DeadLetters, Health
from modelmon.settings import Settings
from modelmon_services.ingest.app import Ingest, make_app

from .test_archiver import consume_all
from .test_proxy import LoopThread, call, loop_thread  # noqa: F401 - the fixture

NOW_MS = int(time.time() * 1000)


@pytest.fixture
def ingest(
    settings: Settings,
    new_topic: Callable[..., str],
    loop_thread: LoopThread,  # noqa: F811
) -> Iterator[tuple[int, str, str]]:
    capture, dead_topic = new_topic(1), new_topic(1)
    registry = CollectorRegistry()
    producer = make_producer(settings.kafka)
    dead = DeadLetters(
        lambda t, k, v: producer.produce(t, key=k, value=v), dead_topic, "ingest", registry
    )
    app = Ingest(
        producer, capture, dead, registry, token=None, insecure=True, max_body_bytes=12_000_000,
        max_event_bytes=1_048_576, redaction=RedactionPolicy(), bounds=EventTimeBounds(),
    )  # fmt: skip
    health = Health()
    health.set_ready(True)
    yield loop_thread.serve(make_app(app, health, registry)), capture, dead_topic


def _doc(ms: int, i: int = 0) -> bytes:
    iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + "Z"
    return orjson.dumps({"model_id": "m", "event_time": iso,
                         "inputs": {f"f{j}": j * 1.5 + i for j in range(20)}})  # fmt: skip


def test_health_is_answered_while_a_10_mb_body_is_parsed(ingest: tuple[int, str, str]) -> None:
    port, _, _ = ingest
    line = _doc(NOW_MS)
    body = b"\n".join([line] * (9_900_000 // len(line)))
    done: list[int] = []
    headers = {"Content-Type": "application/x-ndjson"}
    big = threading.Thread(
        target=lambda: done.append(call(port, "POST", "/v1/capture", body, headers)[0])
    )
    big.start()
    answered_meanwhile = 0
    while big.is_alive():
        status = call(port, "GET", "/healthz", b"", {})[0]
        if big.is_alive():  # answered while the big request was still being worked on
            answered_meanwhile += status == 200
    big.join()
    assert done == [202]
    assert answered_meanwhile >= 1


def test_200k_bad_lines_cost_21_dead_letters(
    settings: Settings, ingest: tuple[int, str, str], consumer_group: str,
    eventually: Callable[..., Any],
) -> None:  # fmt: skip
    port, _, dead_topic = ingest
    status, _, _, answer = call(port, "POST", "/v1/capture", b"x\n" * 200_000,
                                {"Content-Type": "application/x-ndjson"})  # fmt: skip
    assert status == 400
    assert orjson.loads(answer)["error"] == "200000 of 200000 documents invalid; nothing accepted"
    dead = consume_all(settings, dead_topic, consumer_group, 21, eventually)
    records = [DeadLetterRecord.model_validate_json(m.value()) for m in dead]
    assert len(records) == 21
    assert records[-1].reason.startswith("199980 more invalid documents in this request")


def test_events_dated_outside_the_horizons_are_refused_at_the_edge(
    ingest: tuple[int, str, str],
) -> None:
    port, _, _ = ingest
    for ms in (NOW_MS + 3_600_000, 4_102_444_800_000, NOW_MS - 30 * 86_400_000):  # +1 h, 2100
        status, _, _, answer = call(port, "POST", "/v1/capture", _doc(ms),
                                    {"Content-Type": "application/json"})  # fmt: skip
        assert status == 400
        assert "event_time_out_of_bounds" in orjson.loads(answer)["errors"][0]["error"]
    status, _, _, _ = call(port, "POST", "/v1/capture", _doc(NOW_MS),
                           {"Content-Type": "application/json"})  # fmt: skip
    assert status == 202
