"""The label join, pure: predictions and labels meet by inference id on one partition.

Captures (keyed by model id) and labels (keyed by inference id) are routed into one internal
topic, ``modelmon.labeljoin.v1``, keyed and partitioned by inference id (``partition_of``), so a
prediction and its label land on the same partition, in one ordered stream, owned by one
consumer. ``JoinPartition`` applies the join rules to that stream and collects what a fenced
flush must write:

- a label with its prediction pending (or a prediction with its label pending) joins: the pair
  goes to the quality state of the window of the *prediction's* event time;
- otherwise it waits (pending) until ``time + horizon``; the partition's watermark (the largest
  prediction/label time seen) expires it: an expired prediction counts as unlabelled;
- once joined, an inference id is remembered until its horizon ends: a second label (or a
  re-delivered prediction) is a duplicate and counted, never joined again — the first wins.
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal

import msgspec
import numpy as np

from modelmon.errors import InvalidEventError
from modelmon.events import CaptureEvent
from modelmon.quality.labels import LabelEvent
from modelmon.quality.pairs import Pairs, split_output
from modelmon.quality.problem import QualitySpec, QualityState

JOIN_TOPIC: Final = "modelmon.labeljoin.v1"
#: Separator inside deadline-index members (model ids never contain it).
SEP: Final = "|"


def partition_of(inference_id: str, partitions: int) -> int:
    """The internal topic's partition of an inference id (CRC-32, any producer agrees)."""
    return zlib.crc32(inference_id.encode("utf-8")) % partitions


class JoinRecord(msgspec.Struct, frozen=True, array_like=True):
    """One routed prediction (``k="p"``) or label (``k="l"``), as small as it can be."""

    k: Literal["p", "l"]
    model: str
    id: str
    t: int  # prediction event time or label time, epoch ms
    y: Any = None  # the predicted label / value, or the label
    s: float | None = None  # the score (binary), predictions only
    f: dict[str, Any] | None = None  # bias facet / group inputs, predictions of bias models


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(JoinRecord)


def encode(record: JoinRecord) -> bytes:
    return _encoder.encode(record)


def decode(blob: bytes) -> JoinRecord:
    try:
        return _decoder.decode(blob)
    except msgspec.DecodeError as exc:
        raise InvalidEventError(f"not a label-join record: {exc}") from exc


def _ms(moment: Any) -> int:
    return int(moment.timestamp() * 1000)


def route_capture(event: CaptureEvent) -> JoinRecord:
    """A capture event as the prediction the join waits on (SageMaker: inferenceId/eventId)."""
    prediction, score = split_output(event.outputs.prediction, event.outputs.probability)
    key = event.inference_id or event.event_id
    return JoinRecord("p", event.model_id, key, _ms(event.event_time), prediction, score)


def route_label(event: LabelEvent) -> JoinRecord:
    return JoinRecord("l", event.model_id, event.inference_id, _ms(event.label_time), event.label)


@dataclass(frozen=True)
class ModelQuality:
    """What the join needs of one model: its scoring spec, window size and horizon."""

    spec: QualitySpec
    window_ms: int
    horizon_ms: int
    min_labels: int = 100
    constraints: Mapping[str, Any] | None = None
    rolling_windows: int = 1  # also evaluate the merge of the last K windows (not alerted on)
    bias: Any = None  # modelmon.config.BiasSection: bias state per window beside quality

    @property
    def bias_inputs(self) -> tuple[str, ...]:
        """Capture input names the bias state needs (facets, group variable)."""
        if self.bias is None:
            return ()
        config = self.bias.analysis_config
        names = [f.name for f in config.facet]
        if config.group_variable is not None:
            names.append(config.column(config.group_variable))
        return tuple(dict.fromkeys(names))

    def window_of(self, t_ms: int) -> int:
        return t_ms - t_ms % self.window_ms


@dataclass
class WindowDelta:
    """What a batch adds to one (model, window) on one partition."""

    predictions: int = 0
    keys: list[str] = field(default_factory=list)
    labels: list[Any] = field(default_factory=list)
    preds: list[Any] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    captured: list[JoinRecord] = field(default_factory=list)  # bias models: new predictions
    bias_pairs: list[tuple[JoinRecord, Any]] = field(default_factory=list)  # (prediction, label)

    def pairs(self) -> Pairs:
        return Pairs(self.keys, self.labels, self.preds, np.array(self.scores, dtype=np.float64))


#: Counter names of a partition (``counts`` hash) and what each counts.
COUNTERS: Final = (
    "predictions",  # new predictions seen (duplicates excluded)
    "labels",  # new labels seen (duplicates excluded)
    "joined",  # pairs joined
    "duplicate_labels",  # labels for an inference already labelled (the first one won)
    "duplicate_predictions",  # re-sent predictions for an inference already seen
    "expired_predictions",  # predictions whose horizon passed without a label (unlabelled)
    "expired_labels",  # labels whose prediction never came within the horizon
    "unconfigured",  # records of models without a quality config
)


@dataclass
class Entry:
    """A pending prediction or label as stored (the JoinRecord) plus its deadline member."""

    record: JoinRecord
    member: str


def pending_member(record: JoinRecord, window: int) -> str:
    if record.k == "p":
        return SEP.join(("p", record.model, str(window), record.id))
    return SEP.join(("l", record.model, record.id))


def joined_member(inference_id: str) -> str:
    return SEP.join(("j", inference_id))


@dataclass
class JoinPartition:
    """The join state changes of one partition since its last flush, over a read-through view.

    ``known`` maps an inference id to what Redis holds for it (pending prediction, pending label,
    joined marker) and must be filled (``need``) before ``apply`` sees that id.
    """

    watermark: int
    pending: dict[str, Entry | None] = field(default_factory=dict)  # id -> entry (None: removed)
    joined: dict[str, int] = field(default_factory=dict)  # id -> deadline of the marker
    removed_members: list[str] = field(default_factory=list)
    windows: dict[tuple[str, int], WindowDelta] = field(
        default_factory=lambda: defaultdict(WindowDelta)
    )
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))
    known: dict[str, tuple[Entry | None, bool]] = field(default_factory=dict)

    def need(self, records: Iterable[JoinRecord]) -> list[str]:
        """Inference ids whose stored state must be read before ``apply``."""
        return sorted({r.id for r in records if r.id not in self.known})

    def learn(self, inference_id: str, entry: Entry | None, was_joined: bool) -> None:
        self.known[inference_id] = (entry, was_joined)

    def apply(self, record: JoinRecord, models: Mapping[str, ModelQuality]) -> None:
        model = models.get(record.model)
        if model is None:
            self.counts["unconfigured"] += 1
            return
        self.watermark = max(self.watermark, record.t)
        entry, was_joined = self._current(record.id)
        if was_joined or (entry is not None and entry.record.k == record.k):
            self.counts["duplicate_labels" if record.k == "l" else "duplicate_predictions"] += 1
            return
        self.counts["labels" if record.k == "l" else "predictions"] += 1
        if record.k == "p":
            delta = self.windows[(record.model, model.window_of(record.t))]
            delta.predictions += 1
            if model.bias is not None:
                delta.captured.append(record)
        if entry is None:
            self._hold(record, model)
            return
        prediction, label = (record, entry.record) if record.k == "p" else (entry.record, record)
        self._join(prediction, label, entry.member, models.get(prediction.model) or model)

    def _current(self, inference_id: str) -> tuple[Entry | None, bool]:
        if inference_id in self.joined:
            return None, True
        if inference_id in self.pending:
            return self.pending[inference_id], False
        return self.known.get(inference_id, (None, False))

    def _hold(self, record: JoinRecord, model: ModelQuality) -> None:
        member = pending_member(record, model.window_of(record.t))
        self.pending[record.id] = Entry(record, member)

    def _join(
        self, prediction: JoinRecord, label: JoinRecord, member: str, model: ModelQuality
    ) -> None:
        self.pending[prediction.id] = None
        self.removed_members.append(member)
        self.joined[prediction.id] = prediction.t + model.horizon_ms
        delta = self.windows[(prediction.model, model.window_of(prediction.t))]
        delta.keys.append(prediction.id)
        delta.labels.append(label.y)
        delta.preds.append(prediction.y)
        delta.scores.append(np.nan if prediction.s is None else prediction.s)
        if model.bias is not None:
            delta.bias_pairs.append((prediction, label.y))
        self.counts["joined"] += 1

    def deadline(self, entry: Entry, models: Mapping[str, ModelQuality]) -> int:
        model = models.get(entry.record.model)
        horizon = model.horizon_ms if model else 0
        return entry.record.t + horizon


def add_pairs(
    state: QualityState, delta: WindowDelta, on_error: Any = None
) -> tuple[QualityState, int]:
    """Fold a window's joined pairs into its state; a pair the state rejects is dropped and
    reported through ``on_error(inference_id, error)`` (returns the new state, rejects)."""
    if not delta.keys:
        return state, 0
    try:
        return state.add(delta.pairs()), 0
    except InvalidEventError:
        pass
    rejected = 0
    for i, key in enumerate(delta.keys):
        one = Pairs([key], [delta.labels[i]], [delta.preds[i]], np.array([delta.scores[i]]))
        try:
            state = state.add(one)
        except InvalidEventError as exc:
            rejected += 1
            if on_error is not None:
                on_error(key, exc)
    return state, rejected


class _CaptureFields(msgspec.Struct):
    """The few capture-event fields the join needs (decoded without building a CaptureEvent)."""

    model_id: str
    event_time: str
    event_id: str = ""
    inference_id: str | None = None
    outputs: dict[str, Any] = msgspec.field(default_factory=dict)
    inputs: dict[str, Any] = msgspec.field(default_factory=dict)


_capture_decoder = msgspec.json.Decoder(_CaptureFields)


def route_capture_bytes(raw: bytes, models: Mapping[str, ModelQuality] | None = None) -> JoinRecord:
    """A capture message as the prediction the join waits on; InvalidEventError if unreadable.

    For a model with a bias config (in ``models``) the record carries the facet and group
    inputs the bias state needs (absent inputs: None, counted as skipped there).
    """
    try:
        fields = _capture_decoder.decode(raw)
        moment = datetime.fromisoformat(fields.event_time)
    except (msgspec.DecodeError, ValueError) as exc:
        raise InvalidEventError(f"unreadable capture event: {exc}") from exc
    if moment.tzinfo is None:
        raise InvalidEventError("capture event_time has no timezone")
    key = fields.inference_id or fields.event_id
    if not key:
        raise InvalidEventError("capture event has neither inference_id nor event_id")
    score = fields.outputs.get("probability")
    score = float(score) if isinstance(score, int | float) and not isinstance(score, bool) else None
    prediction, score = split_output(fields.outputs.get("prediction"), score)
    model = (models or {}).get(fields.model_id)
    inputs = model.bias_inputs if model is not None else ()
    facets = {name: fields.inputs.get(name) for name in inputs} if inputs else None
    return JoinRecord("p", fields.model_id, key, _ms(moment), prediction, score, facets)


def models_of(configs: Mapping[str, Any]) -> dict[str, ModelQuality]:
    """The join's view of every registered model that has a ``quality`` config."""
    models: dict[str, ModelQuality] = {}
    for model_id, config in configs.items():
        q = getattr(config, "quality", None)
        if q is None:
            continue
        spec = QualitySpec(q.problem_type, q.positive_label, threshold=q.threshold)
        models[model_id] = ModelQuality(
            spec=spec,
            window_ms=config.window.size_seconds * 1000,
            horizon_ms=q.label_horizon_seconds * 1000,
            min_labels=q.min_labels,
            constraints=q.constraints,
            rolling_windows=config.window.rolling_windows,
            bias=getattr(config, "bias", None),
        )
    return models
