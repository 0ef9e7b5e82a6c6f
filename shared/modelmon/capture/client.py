"""``CaptureClient``: capture inferences from Python into ``modelmon.capture.v1``.

It never blocks and never raises into the inference call: events go into librdkafka's
bounded queue (``queue.buffering.max.messages``); when Kafka is down or slow and the queue is
full, the event is dropped and counted (``dropped``, optional ``on_drop(reason, n)``) instead.
Messages are serialized directly with orjson in the shape of ``CaptureEvent`` (validating with
pydantic per call would cost more than the whole budget); values are checked to be scalars.

Sampling is decided by a stable hash of the inference id, so a given inference is captured
(or not) the same way in every process: see ``sampled``.
"""

from __future__ import annotations

import atexit
import hashlib
import itertools
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from confluent_kafka import KafkaException, Producer

from modelmon.adapters.kafka import producer_config
from modelmon.capture.sagemaker import from_sagemaker_record
from modelmon.errors import ConfigurationError, ModelmonError
from modelmon.events import MODEL_ID_PATTERN, CaptureEvent
from modelmon.limits import EventTimeBounds, capture_verdict
from modelmon.redaction import (
    RedactionPolicy,
    UnredactableError,
    redact_event,
    redact_event_doc,
)
from modelmon.settings import Settings

log = logging.getLogger(__name__)

DropCallback = Callable[[str, int], None]
_SCALARS = (str, int, float, bool, type(None))
_HASH_SPAN = float(2**64)
_NUMPY = orjson.OPT_SERIALIZE_NUMPY


def sampled(inference_id: str, percentage: float) -> bool:
    """Whether an inference is captured at ``percentage`` (0-100): stable across processes."""
    if percentage >= 100:
        return True
    if percentage <= 0:
        return False
    digest = hashlib.sha256(inference_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") / _HASH_SPAN * 100.0 < percentage


def _scalar(value: Any) -> Any:
    if isinstance(value, _SCALARS):
        return value
    item = getattr(value, "item", None)  # numpy scalars
    if item is not None:
        value = item()
        if isinstance(value, _SCALARS):
            return value
    raise TypeError(f"feature values must be scalars, got {type(value).__name__}")


_PLAIN = frozenset({str, int, float, bool, type(None)})


def _named(values: Any, names: Sequence[str] | None) -> dict[str, Any]:
    if type(values) is dict and _PLAIN.issuperset(map(type, values.values())):
        return values  # the hot path: serialized right away, so no copy is needed
    if not isinstance(values, Mapping) and hasattr(values, "to_dict"):
        values = values.to_dict()  # a pandas Series: one row, named by its index
    if isinstance(values, Mapping):
        return {str(k): _scalar(v) for k, v in values.items()}
    seq = list(values)
    given = list(names or ())
    return {(given[i] if i < len(given) else f"_c{i}"): _scalar(v) for i, v in enumerate(seq)}


def _outputs(value: Any) -> dict[str, Any]:
    if type(value) in _PLAIN:
        return {"prediction": value}
    if isinstance(value, Mapping):
        out = dict(value)
        if "prediction" in out:
            out["prediction"] = _scalar(out["prediction"])
        return out
    if isinstance(value, _SCALARS) or (hasattr(value, "item") and not hasattr(value, "__len__")):
        return {"prediction": _scalar(value)}
    return {"scores": {str(i): float(v) for i, v in enumerate(value)}}


class _Clock:
    """Now as ISO-8601 UTC; the date-time part is formatted once per second (hot path)."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def now(self) -> str:
        second, ns = divmod(time.time_ns(), 1_000_000_000)
        if second != self._second:
            self._prefix = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S.")
            self._second = second
        return f"{self._prefix}{ns // 1000:06d}Z"


class _Ids:
    """UUID-shaped event ids: a random per-client prefix and a counter (no syscall per id)."""

    def __init__(self) -> None:
        self._prefix = str(uuid.uuid4())[:24]
        self._next = itertools.count().__next__

    def new(self) -> str:
        return f"{self._prefix}{self._next() & 0xFFFFFFFFFFFF:012x}"


def _iso(value: datetime) -> str:
    if value.tzinfo is None:
        raise TypeError("event_time must carry a timezone (UTC)")
    return value.astimezone(UTC).isoformat()


class CaptureClient:
    """Captures one model's inferences. Thread-safe; one per model per process is plenty."""

    def __init__(
        self,
        model_id: str,
        *,
        settings: Settings | None = None,
        variant: str = "AllTraffic",
        sampling_percentage: float | None = None,
        feature_names: Sequence[str] | None = None,
        on_drop: DropCallback | None = None,
        producer_overrides: Mapping[str, Any] | None = None,
    ) -> None:
        if not re.match(MODEL_ID_PATTERN, model_id):
            raise ConfigurationError(f"model id {model_id!r} must match {MODEL_ID_PATTERN}")
        settings = settings or Settings()
        cap = settings.capture
        self.model_id = model_id
        self.variant = variant
        self.topic = settings.topics.capture
        self.labels_topic = settings.topics.labels
        self.sampling_percentage = (
            cap.sampling_percentage if sampling_percentage is None else sampling_percentage
        )
        self.feature_names = list(feature_names or cap.feature_names.get(model_id, []))
        self.redaction = RedactionPolicy.from_settings(cap)
        self._bounds = EventTimeBounds.of(settings.limits)
        self.on_drop = on_drop
        self._key = model_id.encode()
        self._lock = threading.Lock()
        self.queued = self.sampled_out = self._failed = 0
        self._ids, self._clock = _Ids(), _Clock()
        self.drops: dict[str, int] = {}
        conf = producer_config(
            settings.kafka,
            **{
                "queue.buffering.max.messages": cap.buffer_max_messages,
                "error_cb": self._on_error,
                "on_delivery": self._on_delivery,
                "delivery.report.only.error": True,
                "logger": log,
                **(producer_overrides or {}),
            },
        )
        try:
            self._producer = Producer(conf)
        except KafkaException as exc:
            raise ConfigurationError(f"bad Kafka producer settings: {exc}") from exc
        self._closed = threading.Event()
        self._poller = threading.Thread(target=self._poll, name="modelmon-capture", daemon=True)
        self._poller.start()
        atexit.register(self.close)

    # ------------------------------------------------------------------ counters

    @property
    def dropped(self) -> int:
        """Events lost: buffer full, delivery failed, invalid input or client closed."""
        return sum(self.drop_counts().values())

    def drop_counts(self) -> dict[str, int]:
        """A consistent copy of the drops per reason (safe from any thread)."""
        with self._lock:
            return dict(self.drops)

    def _drop(self, reason: str, count: int = 1) -> None:
        with self._lock:
            self.drops[reason] = self.drops.get(reason, 0) + count
        if self.on_drop is not None:
            try:
                self.on_drop(reason, count)
            except Exception:
                log.exception("on_drop callback failed")

    @property
    def delivered(self) -> int:
        """Events acknowledged by Kafka (queued minus still queued minus failed)."""
        pending = 0 if self._closed.is_set() else len(self._producer)
        return self.queued - pending - self._failed - self.drops.get("closed", 0)

    def _on_delivery(self, err: Any, msg: Any) -> None:
        """Called for failed deliveries only (``delivery.report.only.error``)."""
        if err is not None and not self._closed.is_set():
            self._failed += 1
            self._drop("delivery_failed")

    def _on_error(self, err: Any) -> None:
        log.warning("capture producer: %s", err)

    def _poll(self) -> None:
        while not self._closed.is_set():
            self._producer.poll(0.1)

    # ------------------------------------------------------------------ capture

    def capture(
        self,
        inputs: Any,
        outputs: Any = None,
        *,
        inference_id: str | None = None,
        event_time: datetime | None = None,
        latency_ms: float | None = None,
        attributions: Mapping[str, float] | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> str | None:
        """Queue one inference; the event id, or None when sampled out or dropped."""
        try:
            event_id = self._ids.new()
            pct = self.sampling_percentage
            if pct < 100 and not sampled(inference_id or event_id, pct):
                self.sampled_out += 1
                return None
            doc = self._doc(
                event_id,
                inputs,
                outputs,
                inference_id,
                event_time,
                latency_ms,
                attributions,
                metadata,
            )
            return event_id if self._send(orjson.dumps(doc, option=_NUMPY)) else None
        except UnredactableError as exc:
            log.debug("capture dropped: %s", exc)
            self._drop("unredactable")
            return None
        except Exception as exc:  # noqa: BLE001 - never raise into the inference call
            log.debug("capture dropped: %s", exc)
            self._drop("invalid")
            return None

    def _doc(
        self,
        event_id: str,
        inputs: Any,
        outputs: Any,
        inference_id: str | None,
        event_time: datetime | None,
        latency_ms: float | None,
        attributions: Mapping[str, float] | None,
        metadata: Mapping[str, str] | None,
    ) -> dict[str, Any]:
        named = _named(inputs, self.feature_names)
        doc: dict[str, Any] = {
            "schema_version": 1,
            "event_id": event_id,
            "model_id": self.model_id,
            "variant": self.variant,
            "inference_id": inference_id or event_id,
            "event_time": self._clock.now() if event_time is None else _iso(event_time),
            "inputs": named,
            "outputs": {} if outputs is None else _outputs(outputs),
            "source": "sdk",
        }
        if latency_ms is not None:
            doc["latency_ms"] = float(latency_ms)
        if attributions:
            doc["attributions"] = {str(k): float(v) for k, v in attributions.items()}
        if metadata:
            doc["metadata"] = {str(k): str(v) for k, v in metadata.items()}
        return doc if self.redaction.empty else redact_event_doc(doc, self.redaction)

    def _send(self, value: bytes) -> bool:
        if self._closed.is_set():
            self._drop("closed")
            return False
        problem = capture_verdict(value, self._bounds, time.time_ns() // 1_000_000)
        if problem is not None:  # the one validator and the event-time bounds (issue 19)
            log.debug("capture dropped: %s", problem)
            self._drop(problem.split(":", 1)[0])
            return False
        try:
            self._producer.produce(self.topic, value, self._key)
        except BufferError:
            self._drop("buffer_full")
            return False
        except KafkaException as exc:
            log.debug("produce failed: %s", exc)
            self._drop("produce_failed")
            return False
        self.queued += 1
        return True

    def label(
        self,
        inference_id: str,
        value: str | int | float | bool | list[str | int],
        *,
        label_time: datetime | None = None,
    ) -> str | None:
        """Queue the ground truth of one inference (``modelmon.labels.v1``, key = its id);
        the label's event id, or None when dropped. Never raises into the caller."""
        try:
            event_id = self._ids.new()
            doc = {
                "schema_version": 1,
                "event_id": event_id,
                "inference_id": str(inference_id),
                "model_id": self.model_id,
                "label": value,
                "label_time": self._clock.now() if label_time is None else _iso(label_time),
                "source": "sdk",
            }
            if self._closed.is_set():
                self._drop("closed")
                return None
            self._producer.produce(
                self.labels_topic, orjson.dumps(doc, option=_NUMPY), str(inference_id).encode()
            )
        except BufferError:
            self._drop("buffer_full")
            return None
        except Exception as exc:  # noqa: BLE001 - never raise into the caller
            log.debug("label dropped: %s", exc)
            self._drop("invalid")
            return None
        self.queued += 1
        return event_id

    def capture_batch(
        self,
        inputs: Any,
        outputs: Any = None,
        *,
        inference_ids: Sequence[str] | None = None,
        event_time: datetime | None = None,
        latency_ms: float | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> int:
        """Queue a batch (DataFrame, 2-D array or list of rows) in one call; events queued."""
        try:
            rows = self._rows(inputs)
            outs = [None] * len(rows) if outputs is None else list(_iter_outputs(outputs))
            if len(outs) != len(rows):
                raise ValueError(f"{len(rows)} input rows but {len(outs)} outputs")
        except Exception as exc:  # noqa: BLE001 - never raise into the inference call
            log.debug("capture_batch dropped: %s", exc)
            self._drop("invalid")
            return 0
        ids: Sequence[str | None] = inference_ids or [None] * len(rows)
        return sum(
            self.capture(
                row,
                out,
                inference_id=iid,
                event_time=event_time,
                latency_ms=latency_ms,
                metadata=metadata,
            )
            is not None
            for row, out, iid in zip(rows, outs, ids, strict=False)
        )

    def _rows(self, inputs: Any) -> list[Any]:
        to_dict = getattr(inputs, "to_dict", None)
        if to_dict is not None and hasattr(inputs, "columns"):
            return list(to_dict("records"))
        tolist = getattr(inputs, "tolist", None)
        return list(tolist()) if tolist is not None else list(inputs)

    def capture_sagemaker(self, record: Mapping[str, Any] | str | bytes) -> int:
        """Queue a SageMaker capture record as-is (one event per instance); events queued."""
        try:
            doc = orjson.loads(record) if isinstance(record, str | bytes) else record
            events = from_sagemaker_record(
                doc,
                model_id=self.model_id,
                variant=self.variant,
                feature_names=self.feature_names,
            )
        except (ModelmonError, orjson.JSONDecodeError) as exc:
            log.debug("capture_sagemaker dropped: %s", exc)
            self._drop("invalid")
            return 0
        return sum(self.capture_event(e) for e in events)

    def capture_event(self, event: CaptureEvent) -> bool:
        """Queue an already built event (sampled by its inference id, redacted)."""
        if not sampled(event.inference_id or event.event_id, self.sampling_percentage):
            self.sampled_out += 1
            return False
        try:
            event = redact_event(event, self.redaction, self.feature_names)
        except UnredactableError as exc:
            log.debug("capture dropped: %s", exc)
            self._drop("unredactable")
            return False
        return self._send(event.model_dump_json(exclude_none=True).encode())

    # ------------------------------------------------------------------ lifecycle

    def flush(self, timeout: float = 10.0) -> int:
        """Wait up to ``timeout`` s for queued events; returns how many are still queued."""
        return int(self._producer.flush(timeout))

    def close(self, timeout: float = 5.0) -> None:
        """Flush (bounded), stop; events still queued after ``timeout`` count as dropped."""
        if self._closed.is_set():
            return
        remaining = self.flush(timeout)
        self._closed.set()
        self._poller.join()
        if remaining:
            self._drop("closed", remaining)
            self._producer.purge()
            self._producer.flush(0)  # serves the purged reports (ignored: counted above)
        self._producer.close()
        atexit.unregister(self.close)

    def __enter__(self) -> CaptureClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _iter_outputs(outputs: Any) -> Iterable[Any]:
    tolist = getattr(outputs, "tolist", None)
    return list(tolist()) if tolist is not None else list(outputs)
