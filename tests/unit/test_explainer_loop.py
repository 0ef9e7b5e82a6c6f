"""The explainer's loop on in-memory Kafka fakes: what is explained, dead-lettered, committed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
import shap
from confluent_kafka import OFFSET_BEGINNING, KafkaException, TopicPartition
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from capture_corpus import bad, good_docs
from explainer_model import FEATURES, make_regressor, serve, write_files
from modelmon.errors import TransientError
from modelmon.explain.config import ExplainerConfig
from modelmon.explain.sampling import TokenBucket, sampled
from modelmon.explain.shapley import background_sample
from modelmon.service import DeadLetters, Health, StopFlag
from modelmon.validation import check_capture
from modelmon_services.explainer.endpoint import EndpointPredictor
from modelmon_services.explainer.loop import ExplainerLoop
from modelmon_services.explainer.metrics import ExplainerMetrics
from modelmon_services.explainer.models import Explainers
from modelmon_services.explainer.service import ExplainerService

TOPIC, OUT, DLQ = "capture", "attributions", "deadletter"


@dataclass
class Msg:
    _value: bytes | None
    _offset: int

    def value(self) -> bytes | None:
        return self._value

    def topic(self) -> str:
        return TOPIC

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self._offset

    def error(self) -> None:
        return None


@dataclass
class FakeConsumer:
    """One partition; ``committed`` moves only when a transaction with offsets commits."""

    values: list[bytes]
    position_: int = 0
    committed_: int = -1001
    closed: bool = False

    def subscribe(self, topics: list[str]) -> None:
        assert topics == [TOPIC]

    def consume(self, num_messages: int, timeout: float) -> list[Any]:
        start = self.position_
        batch = self.values[start : start + num_messages]
        self.position_ += len(batch)
        return [Msg(v, start + i) for i, v in enumerate(batch)]

    def assignment(self) -> list[TopicPartition]:
        return [TopicPartition(TOPIC, 0)]

    def position(self, partitions: list[TopicPartition]) -> list[TopicPartition]:
        return [TopicPartition(TOPIC, 0, self.position_)]

    def committed(self, partitions: list[TopicPartition], timeout: float) -> list[TopicPartition]:
        return [TopicPartition(TOPIC, 0, self.committed_)]

    def seek(self, partition: TopicPartition) -> None:
        self.position_ = 0 if partition.offset == OFFSET_BEGINNING else partition.offset

    def consumer_group_metadata(self) -> Any:
        return "group"

    def close(self) -> None:
        self.closed = True


@dataclass
class FakeProducer:
    """Transactional: what a transaction produced is visible only once it commits."""

    consumer: FakeConsumer
    committed: list[tuple[str, bytes | None, bytes]] = field(default_factory=list)
    open: list[tuple[str, bytes | None, bytes]] | None = None
    offsets: int | None = None
    fail_commits: int = 0

    def init_transactions(self, timeout: float) -> None:
        pass

    def begin_transaction(self) -> None:
        assert self.open is None
        self.open = []

    def produce(self, topic: str, value: bytes, key: bytes | None = None) -> None:
        assert self.open is not None, "produced outside a transaction"
        self.open.append((topic, key, value))

    def poll(self, timeout: float) -> int:
        return 0

    def send_offsets_to_transaction(self, positions: Any, metadata: Any, timeout: float) -> None:
        self.offsets = positions[0].offset

    def commit_transaction(self, timeout: float) -> None:
        if self.fail_commits:
            self.fail_commits -= 1
            raise KafkaException("commit failed")
        assert self.open is not None and self.offsets is not None
        self.committed += self.open
        self.consumer.committed_ = self.offsets
        self.open, self.offsets = None, None

    def abort_transaction(self, timeout: float) -> None:
        self.open, self.offsets = None, None

    def topic(self, name: str) -> list[dict[str, Any]]:
        return [orjson.loads(v) for t, _, v in self.committed if t == name]


def capture(i: int, model: str = "m1", **extra: Any) -> bytes:
    inputs = {f: float((i * 7 + j) % 11) / 3 - 1.5 for j, f in enumerate(FEATURES)}
    event = {"event_id": f"e-{i}", "model_id": model, "event_time": "2026-01-01T00:00:00Z"}
    return orjson.dumps({**event, "inputs": inputs, **extra})


@pytest.fixture(scope="module")
def regressor() -> tuple[Any, np.ndarray]:
    return make_regressor(seed=0)


def build(
    tmp_path: Path, regressor: tuple[Any, np.ndarray], values: list[bytes],
    configs: Mapping[str, ExplainerConfig], clock: list[float] | None = None,
) -> tuple[ExplainerLoop, FakeConsumer, FakeProducer, CollectorRegistry]:  # fmt: skip
    write_files(tmp_path, *regressor)
    consumer = FakeConsumer(values)
    producer = FakeProducer(consumer)
    registry = CollectorRegistry()
    dead = DeadLetters(lambda t, k, v: producer.produce(t, key=k, value=v), DLQ, "explainer",
                       registry)  # fmt: skip
    now = clock if clock is not None else [0.0]

    def predictor(model: str, config: ExplainerConfig, budget: TokenBucket) -> EndpointPredictor:
        return EndpointPredictor(config, budget, clock=lambda: now[0], wait=lambda s: False)

    def acquire(bucket: TokenBucket, n: int) -> None:
        assert bucket.try_take(n, now[0]), "the start-up requests must fit the budget"

    explainers = Explainers(str(tmp_path / "models"), str(tmp_path / "data"), predictor,
                            clock=lambda: now[0], acquire=acquire)  # fmt: skip
    loop = ExplainerLoop(
        consumer, producer, lambda: configs, explainers, capture_topic=TOPIC, output_topic=OUT,
        dead_letter=lambda raw, exc, model, source: dead.send(
            raw, exc, model_id=model, source=source, code="not_explainable"),
        metrics=ExplainerMetrics(registry), clock=lambda: now[0],
    )  # fmt: skip
    loop.start()
    return loop, consumer, producer, registry


def tree_config(**extra: Any) -> ExplainerConfig:
    return ExplainerConfig.model_validate(
        {"features": FEATURES, "model_path": "m.joblib", "sample_rate": 1.0, **extra}
    )


def count(registry: CollectorRegistry, outcome: str, model: str = "m1") -> float:
    value = registry.get_sample_value(
        "modelmon_explainer_events_total", {"model": model, "outcome": outcome}
    )
    return value or 0.0


def test_tree_attributions_out_equal_shap_and_offsets_commit_with_them(
    tmp_path: Path, regressor: tuple[Any, np.ndarray]
) -> None:
    values = [capture(i) for i in range(30)]
    loop, consumer, producer, registry = build(tmp_path, regressor, values, {"m1": tree_config()})
    assert loop.step(12, 0) == 12 and loop.step(100, 0) == 18 and loop.step(100, 0) == 0
    out = producer.topic(OUT)
    assert [e["event_id"] for e in out] == [f"e-{i}" for i in range(30)]
    assert all(check_capture(orjson.dumps(e)) is None and e["inputs"] == {} for e in out)
    rows = np.array([[orjson.loads(v)["inputs"][f] for f in FEATURES] for v in values])
    reference = shap.TreeExplainer(regressor[0]).shap_values(rows)
    ours = np.array([[e["attributions"][f] for f in FEATURES] for e in out])
    assert np.array_equal(ours, reference)
    assert consumer.committed_ == 30 and count(registry, "explained") == 30
    assert all(t == OUT and k == b"m1" for t, k, _ in producer.committed)


def test_sampling_unconfigured_and_already_attributed_events_are_skipped(
    tmp_path: Path, regressor: tuple[Any, np.ndarray]
) -> None:
    values = [capture(i) for i in range(200)] + [capture(500, model="other")]
    values.append(capture(501, attributions={"f0": 1.0}))
    config = tree_config(sample_rate=0.25)
    loop, consumer, producer, registry = build(tmp_path, regressor, values, {"m1": config})
    while loop.step(64, 0):
        pass
    want = [f"e-{i}" for i in range(200) if sampled(f"e-{i}", 0.25)]
    assert [e["event_id"] for e in producer.topic(OUT)] == want and 20 < len(want) < 80
    assert count(registry, "not_sampled") == 200 - len(want)
    assert count(registry, "no_config", "") == 1 and count(registry, "has_attributions") == 1
    assert consumer.committed_ == len(values)


def test_what_it_cannot_explain_is_dead_lettered_with_a_reason_code(
    tmp_path: Path, regressor: tuple[Any, np.ndarray]
) -> None:
    values = [capture(0), orjson.dumps({"event_id": "bad", "model_id": "m1",
              "event_time": "2026-01-01T00:00:00Z", "inputs": {"f0": "text"}}), b"{not json",
              capture(1, model="broken")]  # fmt: skip
    configs = {"m1": tree_config(), "broken": tree_config(model_path="missing.joblib")}
    loop, consumer, producer, registry = build(tmp_path, regressor, values, configs)
    assert loop.step(10, 0) == 4
    dead = producer.topic(DLQ)
    assert [(d["code"], d["model_id"], d["source_offset"]) for d in dead] == [
        ("not_explainable", "m1", 1), ("not_explainable", "broken", 3)]  # fmt: skip
    assert "not a number" in dead[0]["reason"] and "no such file" in dead[1]["reason"]
    assert [e["event_id"] for e in producer.topic(OUT)] == ["e-0"]
    assert count(registry, "unreadable", "") == 1 and consumer.committed_ == 4


def test_a_failed_transaction_is_rewound_and_sent_exactly_once(
    tmp_path: Path, regressor: tuple[Any, np.ndarray]
) -> None:
    values = [capture(i) for i in range(10)]
    loop, consumer, producer, _ = build(tmp_path, regressor, values, {"m1": tree_config()})
    producer.fail_commits = 1
    assert loop.step(10, 0) == 0 and producer.committed == [] and consumer.position_ == 0
    assert loop.step(10, 0) == 10
    assert [e["event_id"] for e in producer.topic(OUT)] == [f"e-{i}" for i in range(10)]


def test_a_registry_outage_rewinds_and_the_service_backs_off(
    tmp_path: Path, regressor: tuple[Any, np.ndarray]
) -> None:
    values = [capture(i) for i in range(5)]
    loop, consumer, producer, _ = build(tmp_path, regressor, values, {"m1": tree_config()})
    calls = {"n": 0}

    def models() -> Mapping[str, ExplainerConfig]:
        calls["n"] += 1
        if calls["n"] == 1:
            raise TransientError("redis down")
        return {"m1": tree_config()}

    loop._models = models
    stop, health = StopFlag(), Health()
    service = ExplainerService(loop, stop, health, 10, rand=lambda: 0.0)
    stop.wait = lambda s: False  # type: ignore[method-assign]
    service.step()
    assert not health.ready and "redis down" in health.detail and consumer.position_ == 0
    service.step()
    assert health.ready and len(producer.topic(OUT)) == 5


def kernel_config(url: str, **extra: Any) -> ExplainerConfig:
    return ExplainerConfig.model_validate({
        "features": FEATURES, "endpoint_url": url, "background_path": "background.csv",
        "background_method": "sample", "background_size": 10, "sample_rate": 1.0, **extra,
    })  # fmt: skip


def test_kernel_requests_never_exceed_the_budget_and_skips_are_counted(
    tmp_path: Path, regressor: tuple[Any, np.ndarray]
) -> None:
    """Budget 4 requests/s; an explanation costs 2. The clock is ours: 3 s pass in all."""
    values = [capture(i) for i in range(40)]
    clock = [0.0]
    with serve(regressor[0]) as served:
        config = kernel_config(served.url, max_requests_per_second=4)
        loop, _, producer, registry = build(tmp_path, regressor, values, {"m1": config}, clock)
        for _ in range(4):
            loop.step(10, 0)
            clock[0] += 1.0
        requests = served.requests
    explained = len(producer.topic(OUT))
    # a full bucket of 4, then 4 per second for the 3 seconds between batches: <= 16 requests
    assert requests <= 4 + 4 * 3 and requests == 1 + 2 * explained
    assert count(registry, "over_budget") == 40 - explained and explained >= 5
    background = background_sample(regressor[1], 10, "sample", 0)
    rows = np.array([[orjson.loads(values[0])["inputs"][f] for f in FEATURES]])
    tree = shap.TreeExplainer(regressor[0], data=background,
                              feature_perturbation="interventional").shap_values(rows)  # fmt: skip
    first = producer.topic(OUT)[0]
    assert first["metadata"]["modelmon.explainer"] == "kernel"
    assert np.max(np.abs(np.array([first["attributions"][f] for f in FEATURES]) - tree)) < 1e-6


def test_kafka_down_at_start_is_retried_not_a_crash(
    tmp_path: Path, regressor: tuple[Any, np.ndarray]
) -> None:
    loop, _, producer, _ = build(tmp_path, regressor, [capture(0)], {"m1": tree_config()})
    failures = {"n": 2}

    def init_transactions(timeout: float) -> None:
        if failures["n"]:
            failures["n"] -= 1
            raise KafkaException("broker down")

    producer.init_transactions = init_transactions  # type: ignore[method-assign]
    stop, health = StopFlag(), Health()
    waits: list[float] = []

    def wait(seconds: float) -> bool:
        waits.append(seconds)
        return False

    stop.wait = wait  # type: ignore[method-assign]
    service = ExplainerService(loop, stop, health, 10, rand=lambda: 0.0,
                               on_stop=stop.set)  # fmt: skip
    loop.step = lambda batch, timeout: stop.set() or 0  # type: ignore[method-assign]
    service.run()
    assert failures["n"] == 0 and len(waits) == 2 and not health.ready


def test_an_endpoint_refusing_requests_dead_letters_and_json_endpoints_work(
    tmp_path: Path, regressor: tuple[Any, np.ndarray]
) -> None:
    with serve(regressor[0]) as served:
        served.refuse = True
        config = kernel_config(served.url, content_type="application/json")
        loop, _, producer, registry = build(tmp_path, regressor, [capture(0), capture(1)],
                                            {"m1": config})  # fmt: skip
        loop.step(1, 0)
        served.refuse = False
        loop.step(1, 0)  # the failure is remembered for setup_retry_seconds: no new request
        assert served.requests == 1
    dead = producer.topic(DLQ)
    assert len(dead) == 2 and all("answered 400" in d["reason"] for d in dead)
    assert count(registry, "dead_letter") == 2 and len(producer.topic(OUT)) == 0
    with serve(regressor[0]) as served:
        config = kernel_config(served.url, content_type="application/json")
        loop, _, producer, _ = build(tmp_path, regressor, [capture(0)], {"m1": config})
        loop.step(1, 0)
    assert [e["event_id"] for e in producer.topic(OUT)] == ["e-0"]


CORPUS_FEATURES = ["age", "income", "score"]


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import joblib
    from sklearn.ensemble import GradientBoostingRegressor

    root = tmp_path_factory.mktemp("corpus")
    (root / "models").mkdir()
    rng = np.random.default_rng(5)
    x = rng.normal(size=(200, 3)) * 1e3
    model = GradientBoostingRegressor(n_estimators=10, max_depth=2, random_state=0)
    joblib.dump(model.fit(x, x[:, 0] - x[:, 2]), root / "models" / "m.joblib")
    return root


_corpus = st.lists(
    st.one_of(
        good_docs(models=("m1", "other")).flatmap(
            lambda d: st.text(min_size=1, max_size=10).map(
                lambda i: ("good", orjson.dumps({**d, "event_id": i}))
            )
        ),
        bad,
    ),
    min_size=1,
    max_size=25,
)


@hsettings(max_examples=40, deadline=None)
@given(_corpus)
def test_any_input_is_explained_dead_lettered_or_skipped_never_a_crash(
    corpus_dir: Path, messages: list[tuple[str, bytes]]
) -> None:
    consumer = FakeConsumer([raw for _, raw in messages])
    producer = FakeProducer(consumer)
    registry = CollectorRegistry()
    dead = DeadLetters(lambda t, k, v: producer.produce(t, key=k, value=v), DLQ, "explainer",
                       registry)  # fmt: skip
    config = ExplainerConfig(features=CORPUS_FEATURES, model_path="m.joblib", sample_rate=1.0)
    explainers = Explainers(str(corpus_dir / "models"), None, lambda *a: None,  # type: ignore[arg-type,return-value]
                            clock=lambda: 0.0, acquire=lambda b, n: None)  # fmt: skip
    loop = ExplainerLoop(
        consumer, producer, lambda: {"m1": config}, explainers, capture_topic=TOPIC,
        output_topic=OUT, metrics=ExplainerMetrics(registry), clock=lambda: 0.0,
        dead_letter=lambda raw, exc, model, source: dead.send(
            raw, exc, model_id=model, source=source, code="not_explainable"),
    )  # fmt: skip
    loop.start()
    while loop.step(10, 0):
        pass
    assert consumer.committed_ == len(messages)
    outs, letters = producer.topic(OUT), producer.topic(DLQ)
    assert all(check_capture(orjson.dumps(e)) is None for e in outs)
    assert all(d["code"] == "not_explainable" and d["model_id"] == "m1" for d in letters)
    explainable = 0
    for kind, raw in messages:
        doc = orjson.loads(raw) if kind == "good" else None
        if doc is not None and doc["model_id"] == "m1":
            inputs = doc["inputs"]
            ok = all(
                isinstance(inputs.get(f), int | float) and not isinstance(inputs.get(f), str)
                for f in CORPUS_FEATURES
            )
            explainable += ok
    assert len(outs) == explainable
    assert len(outs) + len(letters) == sum(
        1 for kind, raw in messages if kind == "good" and orjson.loads(raw)["model_id"] == "m1"
    )
