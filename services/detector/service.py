"""The detector loop: find complete windows, evaluate each exactly once, publish the results.

Each pass: read every capture partition's progress (Redis) beside Kafka's offsets, find the
windows whose close time every partition is past (idle partitions count as past), claim each
window, merge its partials, evaluate it (and the rolling view), write the reports, the Redis
time series and the alert events, then mark it done. See docs/streaming.md.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition
from prometheus_client import CollectorRegistry

from modelmon.adapters.aws import boto_client, s3_encryption
from modelmon.adapters.kafka import make_consumer, make_producer
from modelmon.adapters.redis import make_redis
from modelmon.checks import Baseline
from modelmon.config import ModelConfig
from modelmon.errors import DependencyUnavailableError, ModelmonError, TransientError
from modelmon.keys import Keys, WindowRef
from modelmon.names import contained
from modelmon.registry import ModelCatalog, Registry
from modelmon.service import Health, StopFlag
from modelmon.settings import Settings
from modelmon.streaming import detection
from modelmon.streaming.reader import StateReader
from modelmon.streaming.results import ResultStore
from modelmon.windows import PartitionProgress, completion_watermark

from .metrics import DetectorMetrics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DetectorOptions:
    topic: str  # the capture topic whose windows are evaluated
    alerts_topic: str
    out: str | None = None  # directory or s3://bucket/prefix for the report files
    interval_seconds: float = 0.5
    claim_seconds: int = 120
    partial_ttl_seconds: int = 3600  # partials of evaluated windows linger this long
    retention_seconds: int = 7 * 86400  # done markers and result series


class Detector:
    def __init__(
        self,
        settings: Settings,
        options: DetectorOptions,
        stop: StopFlag,
        registry: CollectorRegistry,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.options, self.stop, self._clock = options, stop, clock
        self.health = Health()
        self.metrics = DetectorMetrics(registry)
        self._settings = settings
        self._redis = make_redis(settings.redis)
        keys = Keys(settings.redis.key_prefix)
        self._registry = Registry(self._redis, keys)
        self._catalog = ModelCatalog(self._registry)
        self._reader = StateReader(self._redis, keys, options.topic)
        self._results = ResultStore(self._redis, keys, f"detector-{uuid.uuid4().hex[:12]}")
        self._producer = make_producer(settings.kafka)
        self._consumer: Consumer = make_consumer(settings.kafka, "modelmon-detector-offsets")
        self._baselines: dict[str, Baseline | None] = {}
        self._baselines_version = -1
        self._s3: Any = None
        self._full_scan_ms = -(2**62)
        self._broken: set[WindowRef] = set()  # windows whose evaluation failed (not transient)

    # -- lifecycle ------------------------------------------------------------------------
    def run(self) -> None:
        log.info("detector started", extra={"topic": self.options.topic})
        failures = 0
        try:
            while not self.stop.is_set():
                try:
                    self.step()
                    failures = 0
                    self.health.set_ready(True, "evaluating")
                except TransientError as exc:
                    failures += 1
                    delay = min(30.0, 0.25 * 2 ** min(failures, 7)) * (0.5 + random.random() / 2)
                    self.health.set_ready(False, f"dependency down: {exc}")
                    log.warning("dependency down, retrying in %.1fs: %s", delay, exc)
                    self.stop.wait(delay)
                    continue
                self.stop.wait(self.options.interval_seconds)
        finally:
            self.health.set_ready(False, "stopping")
            self._producer.flush(10)
            self._consumer.close()
            self._redis.close()
            log.info("detector stopped")

    def step(self) -> int:
        """One pass; returns how many windows this detector evaluated."""
        self._catalog.refresh()
        offsets = self._kafka_offsets()
        progress = self._reader.progress(offsets)
        now_ms = int(self._clock() * 1000)
        models = {m: e.config for m, e in self._catalog.models.items()}
        if not models or not offsets:
            return 0
        marks = {
            m: completion_watermark(progress, now_ms, c.window.idle_timeout_seconds * 1000)
            for m, c in models.items()
        }
        low = self._scan_from(now_ms, progress, models)
        candidates = self._reader.windows(offsets, max(marks.values()), low)
        ready = [
            ref
            for ref, close in candidates.items()
            if ref.model_id in models and close <= marks[ref.model_id]
        ]
        fresh = set(ready) - self._results.done(ready)
        evaluated = 0
        for ref in sorted(fresh - self._broken, key=lambda r: (r.start_ms, r.model_id)):
            if self.stop.is_set():
                break
            if self._results.claim(ref, self.options.claim_seconds):
                evaluated += self._evaluate_claimed(ref, models[ref.model_id], offsets, candidates)
        return evaluated

    def _evaluate_claimed(
        self, ref: WindowRef, config: ModelConfig, offsets: dict[int, tuple[int, int]],
        candidates: dict[WindowRef, int],
    ) -> int:  # fmt: skip
        try:
            self._evaluate(ref, config, list(offsets), candidates[ref])
        except TransientError:
            self._results.release(ref)
            raise  # the run loop backs off and retries
        except Exception:
            self._results.release(ref)
            self._broken.add(ref)
            self.metrics.failures.labels(ref.model_id).inc()
            log.exception("window evaluation failed; skipped", extra={"model": ref.model_id})
            return 0
        return 1

    def _scan_from(
        self, now_ms: int, progress: list[PartitionProgress], models: dict[str, ModelConfig]
    ) -> int | None:
        """Lowest close time worth reading: windows that just completed close within a window
        span below the lowest partition watermark. Once a minute, everything (stragglers:
        windows whose claimant died, or that completed while no detector ran)."""
        if now_ms - self._full_scan_ms >= 60_000:
            self._full_scan_ms = now_ms
            return None
        marks = [p.watermark_ms for p in progress if p.watermark_ms is not None]
        if not marks:
            return None
        span = max(
            c.window.size_seconds + c.window.allowed_lateness_seconds for c in models.values()
        )
        return min(marks) - span * 1000 - 3_600_000

    def _kafka_offsets(self) -> dict[int, tuple[int, int]]:
        try:
            meta = self._consumer.list_topics(self.options.topic, timeout=10)
            topic = meta.topics.get(self.options.topic)
            if topic is None or topic.error is not None:
                return {}
            return {
                p: self._consumer.get_watermark_offsets(
                    TopicPartition(self.options.topic, p), timeout=10
                )
                for p in topic.partitions
            }
        except KafkaException as exc:
            raise DependencyUnavailableError(f"Kafka did not answer: {exc}") from exc

    # -- one window -----------------------------------------------------------------------
    def _evaluate(self, ref: WindowRef, config: ModelConfig, parts: list[int], close: int) -> None:
        started = time.perf_counter()
        merged = self._reader.merged(ref, parts)
        if not merged.partitions:  # partials expired long ago: nothing left to evaluate
            log.warning("window has no partials left; skipped", extra={"model": ref.model_id})
            self._results.finish(ref, int(self._clock() * 1000), self.options.retention_seconds)
            return
        baseline = self._baseline(config.model_id)
        now = datetime.now(UTC)
        views = [detection.single(ref, merged.profile, merged.late)]
        k = config.window.rolling_windows
        if k > 1:
            keep = (k + 1) * ref.size_ms // 1000 + config.window.allowed_lateness_seconds + 3600
            self._results.save_merged(ref, merged.profile, keep)
            profiles = [*self._earlier(ref, k - 1, parts), merged.profile]
            if len(profiles) > 1:
                views.append(detection.rolling(ref, profiles))
        for view in views:
            self._publish(view, config, baseline, ref, now)
        self._results.finish(ref, int(now.timestamp() * 1000), self.options.retention_seconds)
        self._reader.expire_partials(ref, merged.partitions, self.options.partial_ttl_seconds)
        self.metrics.evaluated.labels(ref.model_id).inc()
        self.metrics.late.labels(ref.model_id).set(merged.late)
        self.metrics.seconds.observe(time.perf_counter() - started)
        self.metrics.delay.set(max(0.0, self._clock() - close / 1000))
        log.info(
            "window evaluated",
            extra={"model": ref.model_id, "window_start": detection.utc(ref.start_ms).isoformat(),
                   "events": merged.profile.row_count, "late": merged.late},
        )  # fmt: skip

    def _publish(
        self, view: detection.WindowView, config: ModelConfig, baseline: Baseline | None,
        ref: WindowRef, now: datetime,
    ) -> None:  # fmt: skip
        uri = self._report_uri(config, view, ref.size_ms)
        found = detection.detect(view, config, baseline, now, uri)
        if uri is not None:
            self._write_reports(uri, detection.report_files(view, found, baseline))
        retention_ms = self.options.retention_seconds * 1000
        self._results.save_result(found.result, view.windows > 1, retention_ms)
        alerts = detection.alert_events(view, found, config, now)
        events = [*alerts, detection.window_evaluated(view, found)]
        self._produce_all(config.model_id, [e.model_dump_json().encode() for e in events])
        for alert in alerts:
            self.metrics.violations.labels(config.model_id, alert.check_type).inc()

    def _earlier(self, ref: WindowRef, n: int, parts: list[int]) -> list[Any]:
        """The merged profiles of the ``n`` windows before ``ref`` that had events: saved by
        their evaluation, or merged from their partials if they are not evaluated yet."""
        refs = [
            WindowRef(ref.model_id, ref.size_ms, ref.start_ms - i * ref.size_ms)
            for i in range(n, 0, -1)
        ]
        profiles = []
        for earlier in refs:
            saved = self._results.merged_profiles([earlier])
            if saved:
                profiles.append(saved[0])
                continue
            found = self._reader.merged(earlier, parts)
            if found.partitions:
                profiles.append(found.profile)
        return profiles

    def _baseline(self, model_id: str) -> Baseline | None:
        """The model's baseline, cached until the registry version moves."""
        version = self._registry.version()
        if version != self._baselines_version:
            self._baselines.clear()
            self._baselines_version = version
        if model_id not in self._baselines:
            files = self._registry.baseline_files(model_id)
            baseline = None
            if files is not None:
                try:
                    baseline = Baseline.from_files(files, f"registry:{model_id}")
                except ModelmonError as exc:
                    log.error("stored baseline unusable: %s", exc, extra={"model": model_id})
            self._baselines[model_id] = baseline
        return self._baselines[model_id]

    # -- outputs --------------------------------------------------------------------------
    def _report_uri(self, config: ModelConfig, view: detection.WindowView, size: int) -> str | None:
        if not self.options.out:
            return None
        return self.options.out.rstrip("/") + "/" + detection.report_path(config, view, size)

    def _write_reports(self, uri: str, files: dict[str, str]) -> None:
        if not uri.startswith("s3://"):
            root = self.options.out or "."
            directory = contained(root, str(Path(uri).relative_to(root)))
            directory.mkdir(parents=True, exist_ok=True)
            for name, text in files.items():
                tmp = directory / (name + ".tmp")
                tmp.write_text(text, encoding="utf-8")
                tmp.replace(directory / name)
            return
        from botocore.exceptions import BotoCoreError, ClientError

        if self._s3 is None:
            self._s3 = boto_client(self._settings.aws, "s3")
        bucket, _, prefix = uri[len("s3://") :].partition("/")
        for name, text in files.items():
            try:
                self._s3.put_object(
                    Bucket=bucket, Key=prefix + name, Body=text.encode(),
                    **s3_encryption(self._settings.aws),
                )  # fmt: skip
            except (BotoCoreError, ClientError) as exc:
                raise DependencyUnavailableError(f"cannot write {uri}{name}: {exc}") from exc

    def _produce_all(self, model_id: str, values: list[bytes]) -> None:
        """Produce and wait for every delivery: the window is marked done only after."""
        errors: list[Any] = []

        def delivered(err: KafkaError | None, _msg: Message) -> None:
            if err is not None:
                errors.append(err)

        for value in values:
            self._producer.produce(
                self.options.alerts_topic, key=model_id.encode(), value=value,
                on_delivery=delivered,
            )  # fmt: skip
        if self._producer.flush(30) or errors:
            raise DependencyUnavailableError(f"alert events not delivered: {errors[:3]}")
