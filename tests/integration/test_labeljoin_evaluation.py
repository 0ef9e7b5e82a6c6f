"""A window the label join flushed is evaluated at least once, even when the joiner dies between
its fenced flush and the evaluation (CI caught a SIGKILL there leaving a window's published bias
result stale for good); a mark is cleared only after the results went out, and never when a
later flush changed the window again. Real Redis and Kafka."""

from __future__ import annotations

import random
import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from conftest import wait_until
from modelmon.adapters.kafka import make_consumer
from modelmon.keys import Keys
from modelmon.quality.batch import QualityColumns, state_of_rows
from modelmon.quality.evaluate import QualityEvaluation
from modelmon.quality.join import JoinPartition, ModelQuality
from modelmon.quality.problem import QualitySpec
from modelmon.quality.store import JoinFlush, JoinStore, Unevaluated, WindowWrite
from modelmon.settings import Settings
from modelmon_services.labeljoin.joiner import Joiner
from modelmon_services.labeljoin.metrics import LabelJoinMetrics

SPEC = QualitySpec("BinaryClassification")
MODEL = ModelQuality(SPEC, window_ms=10_000, horizon_ms=60_000, min_labels=1)
COLUMNS = QualityColumns("label", "prediction", "probability")


def _partial(rows: int, seed: int) -> bytes:
    rng = random.Random(seed)
    pairs = [{"inference_id": f"i{i}", "label": rng.randint(0, 1), "prediction": rng.randint(0, 1),
              "probability": rng.random()} for i in range(rows)]  # fmt: skip
    return state_of_rows(SPEC, pairs, COLUMNS).serialize()


def _flush(store: JoinStore, partition: int, offsets: tuple[int | None, int], windows: list[
        tuple[str, int, bytes]]) -> None:  # fmt: skip
    writes = [WindowWrite(model, start, blob, 1, 1) for model, start, blob in windows]
    plan = JoinFlush(offsets[0], offsets[1], 0, JoinPartition(0), writes, {})
    store.flush(partition, plan, 0)


def test_flushed_windows_stay_marked_until_settled_at_the_offset_they_were_read(
    redis_client: Any, redis_prefix: str
) -> None:
    store = JoinStore(redis_client, Keys(redis_prefix), 3600)
    _flush(store, 0, (None, 5), [("m", 0, b"a"), ("m", 10_000, b"b")])
    first = store.unevaluated(0)
    assert first == [Unevaluated("m", 0, 5), Unevaluated("m", 10_000, 5)]
    assert store.unevaluated(1) == []  # partitions keep their own marks
    _flush(store, 0, (5, 9), [("m", 10_000, b"c")])  # changed again after it was read
    store.evaluated(0, first)
    assert store.unevaluated(0) == [Unevaluated("m", 10_000, 9)]
    store.evaluated(0, store.unevaluated(0))
    assert store.unevaluated(0) == []


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.tuples(st.booleans(), st.sets(st.integers(0, 3), max_size=3)), max_size=12))
def test_a_window_is_marked_iff_a_flush_changed_it_after_its_last_settled_read(
    redis_client: Any, redis_prefix: str, steps: list[tuple[bool, set[int]]]
) -> None:
    """Random interleavings of flushes and (possibly stale) settles against a model of the
    rule: a settle clears a mark only if no flush touched the window after the read."""
    store = JoinStore(redis_client, Keys(f"{redis_prefix}:{uuid.uuid4().hex[:8]}"), 3600)
    offset, last_flush = 0, {}
    reads: list[list[Unevaluated]] = []
    for settle, windows in steps:
        if settle and reads:
            read = reads.pop(0)
            store.evaluated(0, read)
            for w in read:
                if last_flush.get(w.start_ms) == w.offset:
                    last_flush.pop(w.start_ms)
        elif windows:
            _flush(store, 0, (offset or None, offset + 1), [("m", w, b"x") for w in windows])
            offset += 1
            last_flush.update({w: offset for w in windows})
            reads.append(store.unevaluated(0))
    assert store.unevaluated(0) == [Unevaluated("m", w, o) for w, o in sorted(last_flush.items())]


class _Published:
    """Publishes quality results into a list; ``die`` makes the next call raise, as a kill
    between the flush and the evaluation would stop it."""

    def __init__(self) -> None:
        self.results: list[QualityEvaluation] = []
        self.die = False

    def __call__(self, result: QualityEvaluation, model: ModelQuality) -> None:
        if self.die:
            raise KeyboardInterrupt("killed")
        self.results.append(result)


def _joiner(settings: Settings, store: JoinStore, topic: str, group: str, publish: _Published,
            deliver: list[bool]) -> Joiner:  # fmt: skip
    consumer = make_consumer(settings.kafka, group, **{"partition.assignment.strategy": "range"})
    joiner = Joiner(
        consumer, store, lambda: {"m": MODEL}, topic=topic, partitions=2, publish=publish,
        retry=lambda what, action: action(), clock_ms=lambda: 0,
        metrics=LabelJoinMetrics(CollectorRegistry()), deliver=lambda: deliver.pop(0),
    )  # fmt: skip
    joiner.start()
    wait_until(lambda: joiner.step(10, 0.2) >= 0 and len(joiner.owned) == 2, 60, "assignment")
    return joiner


def test_a_joiner_killed_after_its_flush_leaves_the_windows_to_its_successor(
    settings: Settings, redis_client: Any, redis_prefix: str, new_topic: Any,
    consumer_group: str,
) -> None:  # fmt: skip
    topic = new_topic(partitions=2)
    store = JoinStore(redis_client, Keys(redis_prefix), 3600)
    # what a killed predecessor left: two windows flushed on partition 1, never evaluated
    _flush(store, 1, (None, 0), [("m", 0, _partial(40, 1)), ("m", 10_000, _partial(7, 2))])
    publish = _Published()
    publish.die = True
    doomed = _joiner(settings, store, topic, consumer_group, publish, [True])
    try:
        doomed.flush()
        raise AssertionError("the publisher should have died")
    except KeyboardInterrupt:
        pass
    finally:
        doomed._consumer.close()
    assert [w.start_ms for w in store.unevaluated(1)] == [0, 10_000]  # still marked
    publish.die = False
    successor = _joiner(settings, store, topic, consumer_group, publish, [False, True])
    try:
        successor.flush()  # evaluates both, but they were not all delivered: marks stay
        assert [(r.window_start_ms, r.labelled) for r in publish.results] == [(0, 40), (10_000, 7)]
        assert len(store.unevaluated(1)) == 2
        successor.flush()  # so the next flush evaluates them again
        assert [r.window_start_ms for r in publish.results] == [0, 10_000, 0, 10_000]
        assert store.unevaluated(1) == []
        successor.flush()  # nothing marked, nothing new: nothing evaluated again
        assert len(publish.results) == 4
    finally:
        successor._consumer.close()
