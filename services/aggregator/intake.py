"""Intake: a consumed batch -> decoded events folded into the owning partition's aggregate.

Decode routing: with the native decoder (streaming/native_decode.py) every batch is decoded
once, whatever models it mixes, and split by model with array operations. On the pure-Python
path a batch of one model's messages (one Kafka key, checked against the payload) goes through
that model's typed decoder, anything else through the generic one. What cannot
be profiled (undecodable, invalid, or naming an unregistered model) is a dead letter with its
source topic/partition/offset; a model registered a moment ago is looked up again first.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
from confluent_kafka import KafkaError, Message

from modelmon.errors import InvalidEventError, TransientError, UnknownModelError
from modelmon.limits import EventTimeBounds
from modelmon.registry import ModelCatalog
from modelmon.service import DeadLetters
from modelmon.streaming.bounds import reject_out_of_bounds
from modelmon.streaming.decode import DecodedBatch, Rejected, TypedDecoder, decode_batch
from modelmon.streaming.feature_cap import DEFAULT_MAX_FEATURES
from modelmon.streaming.native_decode import decode_mixed
from modelmon.streaming.partition import ModelPlan, PartitionAggregate
from modelmon.streaming.python_blocks import decode_blocks
from modelmon.windows import WindowSpec

from .messages import Offsets, accepted, by_partition
from .metrics import AggregatorMetrics

log = logging.getLogger(__name__)


def plans_of(
    catalog: ModelCatalog, max_features: int = DEFAULT_MAX_FEATURES
) -> dict[str, ModelPlan]:
    """What the aggregator needs of each registered model."""
    plans: dict[str, ModelPlan] = {}
    for model_id, entry in catalog.models.items():
        cfg = entry.config
        decoder = TypedDecoder(model_id, {f.name: f.kind for f in cfg.features})
        plans[model_id] = ModelPlan(
            spec=WindowSpec.from_config(cfg.window),
            kinds={f.name: f.kind for f in cfg.features if f.kind is not None},
            # every configured feature (monitored or not): absent from a window = missing, on
            # the typed and the generic path alike
            features=tuple(f.name for f in cfg.features),
            decoder=decoder if cfg.features else None,
            max_features=max(max_features, len(cfg.features)),  # issue 19: bounded features
        )
    return plans


def model_names(batch: DecodedBatch) -> set[str]:
    """The models a decoded batch names (without a pass over its events when it says)."""
    if batch.model_id is not None:
        return {batch.model_id}
    if batch.groups is not None:
        return set(batch.groups)
    return set(batch.model_ids)


class Intake:
    """Folds batches into aggregates; dead-letters what cannot be profiled."""

    def __init__(
        self,
        topic: str,
        catalog: ModelCatalog,
        dead_letters: DeadLetters,
        metrics: AggregatorMetrics,
        *,
        bounds: EventTimeBounds | None = None,
        max_features: int = DEFAULT_MAX_FEATURES,
        clock: Callable[[], float] = time.time,
        may_refresh: Callable[[], bool] = lambda: True,
        attributions: Callable[..., int] | None = None,
    ) -> None:
        self.topic, self._catalog, self._dead_letters = topic, catalog, dead_letters
        self.metrics = metrics
        self._bounds, self._max_features, self._clock = bounds, max_features, clock
        self._may_refresh = may_refresh  # False after a Redis loss: keep the plans we have
        self.plans: dict[str, ModelPlan] = {}
        self._features: tuple[object, dict[str, tuple[str, ...]]] = (None, {})  # of plans
        self._last_recheck = float("-inf")
        self._attributions = attributions  # modelmon.attribution: (p, agg, values, offsets, batch)
        #: the outcome counters' children, looked up once (profiled, late, dead_letter)
        self._events = [metrics.events.labels(o) for o in ("profiled", "late", "dead_letter")]

    # -- the registry ---------------------------------------------------------------------
    def refresh(self, force: bool = False) -> None:
        """Reload the plans if the registry moved (raises TransientError while Redis is down)."""
        if self._catalog.refresh(force=force) or force:
            if not self._may_refresh():  # issue 19: an empty registry after a Redis loss
                return
            self.plans = plans_of(self._catalog, self._max_features)

    def refresh_quietly(self, force: bool = False) -> None:
        """Reload the registry if it moved; while Redis is down keep the configs we have
        (the next flush will wait for Redis anyway, without committing)."""
        try:
            self.refresh(force)
        except TransientError as exc:
            log.warning("cannot reload the model registry, keeping the loaded one: %s", exc)

    def _recheck(self) -> None:
        """Reload the registry now (at most once a second) when a batch names unknown models."""
        now = time.monotonic()
        if now - self._last_recheck >= 1.0:
            self._last_recheck = now
            self.refresh_quietly(force=True)

    # -- batches --------------------------------------------------------------------------
    def process(self, msgs: list[Message], owned: dict[int, PartitionAggregate]) -> int:
        """Fold ``msgs`` into the aggregates of the partitions we own; returns messages taken."""
        errors = list(map(Message.error, msgs))
        good = msgs
        if errors.count(None) != len(errors):  # rare: keep the messages, log the errors
            good = [m for m, err in zip(msgs, errors, strict=True) if err is None]
            for err in errors:
                if err is not None and err.code() != KafkaError._PARTITION_EOF:
                    log.warning("consumer error: %s", err)
        taken = 0
        for p, chunk in by_partition(good):
            agg = owned.get(p)
            if agg is None:
                continue
            chunk = accepted(chunk, agg.next_offset)  # re-delivered after a seek: skip those
            if chunk:
                self._process_partition(p, agg, chunk, Offsets(chunk))
                taken += len(chunk)
        return taken

    def _process_partition(
        self, p: int, agg: PartitionAggregate, chunk: list[Message], offsets: Offsets
    ) -> None:
        values = list(map(Message.value, chunk))
        batch, rejects = self._decode_safely(chunk, values)
        if self._bounds is not None:  # issue 19: out-of-bounds event times -> dead letters
            now_ms = int(self._clock() * 1000)
            batch, rejects = reject_out_of_bounds(batch, rejects, self._bounds, now_ms)
        if not self.plans.keys() >= model_names(batch):
            self._recheck()  # a model registered a moment ago is not a dead letter
        if self._attributions is not None:  # before add: the same lateness as the profile
            self._attributions(p, agg, values, offsets, batch, self.plans)
        result = agg.add(batch, offsets[-1], self.plans)
        for r in rejects:
            source = (self.topic, p, offsets[r.index])
            self._dead_letters.send(
                values[r.index] or b"", InvalidEventError(r.reason), model_id=r.model_id,
                source=source,
            )  # fmt: skip
        for i in result.unknown:
            model_id = batch.model_ids[int(np.searchsorted(batch.index, i))]
            error = UnknownModelError(
                f"model {model_id!r} is not registered (modelmon model register)"
            )
            source = (self.topic, p, offsets[i])
            self._dead_letters.send(values[i] or b"", error, model_id=model_id, source=source)
        self._count(agg, result.profiled, result.late, len(rejects) + len(result.unknown))

    def _count(self, agg: PartitionAggregate, profiled: int, late: int, dead: int) -> None:
        """The batch's outcomes into the metrics (a few calls per batch, none per event)."""
        for model, n in agg.over_cap.items():  # issue 19: values past the feature cap
            self.metrics.over_cap.labels(model).inc(n)
        agg.over_cap.clear()
        events = self._events
        events[0].inc(profiled)
        if late:
            events[1].inc(late)
        if dead:
            events[2].inc(dead)

    def _decode_safely(
        self, chunk: list[Message], values: list[bytes | None]
    ) -> tuple[DecodedBatch, list[Rejected]]:
        """``_decode``; should a decoder raise on some input class it does not handle, the
        messages that make it raise are rejected one by one and the others decoded: input
        never stops the aggregator (the error policy)."""
        try:
            return self._decode(chunk, values)
        except Exception:
            log.exception("decoder failed on a batch; isolating the messages that break it")
        bad: list[Rejected] = []
        for i, value in enumerate(values):
            try:
                decode_batch([value])
            except Exception as exc:  # noqa: BLE001 (whatever the error, this input is the cause)
                reason = f"undecodable ({type(exc).__name__}: {exc})"[:1000]
                bad.append(Rejected(i, reason, type(exc).__name__))
        skip = {r.index for r in bad}
        kept = np.asarray([i for i in range(len(values)) if i not in skip], dtype=np.int64)
        batch, rejects = decode_batch([values[i] for i in kept.tolist()])
        batch = replace(batch, index=kept[batch.index])
        rejects = [replace(r, index=int(kept[r.index])) for r in rejects]
        return batch, sorted([*rejects, *bad], key=lambda r: r.index)

    def _decode(self, chunk: list[Message], values: list[bytes | None]) -> tuple[Any, list[Any]]:
        """The native decoder, once for the whole batch; on the pure-Python path the model's
        typed decoder when the batch is one model's (by Kafka key, checked against the
        payload), otherwise, or when it declines, the generic decoder."""
        if self._features[0] is not self.plans:  # per model: its configured features
            self._features = (self.plans, {m: p.features for m, p in self.plans.items()})
        native = decode_mixed(values, self._features[1])
        if native is not None:
            return native
        keys = set(map(Message.key, chunk))
        key = keys.pop() if len(keys) == 1 else None
        plan = self.plans.get(key.decode(errors="replace")) if isinstance(key, bytes) else None
        if plan is not None and plan.decoder is not None:
            batch = plan.decoder.decode(values)
            if batch is not None:
                return batch, []
        return decode_blocks(values, self._features[1])  # shared blocks, as natively
