"""The detector loop: find complete windows, evaluate each exactly once, publish the results.

Each pass: read every capture partition's progress (Redis) beside Kafka's offsets, find the
windows whose close time every partition is past (idle partitions count as past), claim each
window, merge its partials, evaluate it (and the rolling view), write the reports, the Redis
time series and the alert events, then mark it done. A window that cannot be evaluated is
recorded durably (a failed result with the reason, an ``evaluation_failed`` alert, a metric)
and tried again on a schedule (``FAILED_RETRY``). Every client is handed in (``build`` in
``__init__.py``; unit tests give in-memory fakes). See docs/streaming.md.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, TopicPartition
from prometheus_client import CollectorRegistry

from modelmon.checks import Baseline
from modelmon.config import ModelConfig
from modelmon.errors import DependencyUnavailableError, ModelmonError, TransientError
from modelmon.keys import WindowRef
from modelmon.registry import ModelCatalog
from modelmon.retry import Backoff, RetryPolicy
from modelmon.service import Health, StopFlag
from modelmon.streaming import detection
from modelmon.streaming.baseline_cache import BaselineCache
from modelmon.streaming.results import WindowFailure
from modelmon.streaming.tiers import endpoint_path
from modelmon.streaming.window_report import window_files

from .finder import ShardOptions, WindowFinder, sorted_windows
from .metrics import DetectorMetrics
from .ports import DetectorPorts

log = logging.getLogger(__name__)

#: Folder under the report output holding what every window report shares (plotly.js).
ASSETS = "_assets"

#: A window whose evaluation failed is tried again after 1-2 min, doubling, at most every
#: 30-60 min (``MODELMON_DETECTOR__FAILED_RETRY_SECONDS`` sets the first delay).
FAILED_RETRY = RetryPolicy(attempts=2**31, base_seconds=120.0, max_seconds=3600.0)


@dataclass(frozen=True)
class DetectorOptions:
    topic: str  # the capture topic whose windows are evaluated
    alerts_topic: str
    out: str | None = None  # directory or s3://bucket/prefix for the report files
    interval_seconds: float = 0.5
    claim_seconds: int = 120
    partial_ttl_seconds: int = 3600  # partials of evaluated windows linger this long
    hot_retention_seconds: int = 86400  # results and series in Redis (issue 23: the hot tier)
    durable_retention_days: int = 400  # results in durable storage
    failed_retry: RetryPolicy = FAILED_RETRY  # when a window that failed is tried again
    shard: ShardOptions = field(default_factory=ShardOptions)  # models; the repair sweep
    baseline_cache_bytes: int = 256 * 1024 * 1024

    @property
    def retention_seconds(self) -> int:
        """Done markers and failure records: as long as the hot tier, and past the repair
        sweep's look-back so that it never re-evaluates a window."""
        return max(self.hot_retention_seconds, self.shard.repair_lookback_seconds + 3600)


class Detector:
    def __init__(
        self,
        options: DetectorOptions,
        ports: DetectorPorts,
        stop: StopFlag,
        registry: CollectorRegistry,
        health: Health,
        clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.options, self.stop, self._clock, self._rand = options, stop, clock, rand
        self.health = health
        self.metrics = DetectorMetrics(registry)
        self._ports = ports
        self._registry = ports.registry
        self._catalog = ModelCatalog(ports.registry)
        self._reader, self._results = ports.reader, ports.results
        self._producer, self._consumer = ports.producer, ports.consumer
        self._baselines: BaselineCache[Baseline] = BaselineCache(options.baseline_cache_bytes)
        self._plotly_written = False
        self._baselines_version = -1
        self._finder = WindowFinder(options.shard, self._reader, self._results, self.metrics)
        self._pruned_ms: int | None = None

    # -- lifecycle ------------------------------------------------------------------------
    def run(self) -> None:
        log.info("detector started", extra={"topic": self.options.topic})
        backoff = Backoff(self._rand)
        try:
            while not self.stop.is_set():
                try:
                    self.step()
                    backoff.succeeded()
                    self.health.set_ready(True, "evaluating")
                except TransientError as exc:
                    delay = backoff.failed()
                    self.health.set_ready(False, f"dependency down: {exc}")
                    log.warning("dependency down, retrying in %.1fs: %s", delay, exc)
                    self.stop.wait(delay)
                    continue
                self.stop.wait(self.options.interval_seconds)
        finally:
            self.health.set_ready(False, "stopping")
            self._producer.flush(10)
            self._consumer.close()
            self._ports.close()
            log.info("detector stopped")

    def step(self) -> int:
        """One pass; returns how many windows this detector evaluated."""
        self._catalog.refresh()
        offsets = self._kafka_offsets()
        now_ms = int(self._clock() * 1000)
        models = {m: e.config for m, e in self._catalog.models.items()}
        if not models or not offsets:
            return 0
        progress = self._reader.progress(offsets)
        ready = self._finder.ready(models, progress, list(offsets), now_ms)
        todo = sorted_windows(set(ready))  # handed out: finished, queued or requeued below
        evaluated = 0
        try:
            fresh = set(ready) - self._results.done(ready)
            failed = self._results.failures(fresh)
            waiting = {ref for ref, f in failed.items() if f.retry_at_ms > now_ms}  # queued
            todo = sorted_windows(fresh - waiting)
            while todo and not self.stop.is_set():
                ref = todo[0]
                if self._results.claim(ref, self.options.claim_seconds):
                    evaluated += self._evaluate_claimed(
                        ref, models[ref.model_id], offsets, ready[ref], failed.get(ref)
                    )
                elif not self._results.done([ref]):  # another detector holds it: look again
                    self._finder.requeue({ref: ready[ref]})
                todo.pop(0)
        finally:
            self._finder.requeue({ref: ready[ref] for ref in todo})
            self._finder.save()
        self._prune(models, now_ms)
        return evaluated

    def _evaluate_claimed(
        self, ref: WindowRef, config: ModelConfig, offsets: dict[int, tuple[int, int]],
        close: int, failed: WindowFailure | None,
    ) -> int:  # fmt: skip
        try:
            self._evaluate(ref, config, list(offsets), close, failed)
        except TransientError:
            self._results.release(ref)
            raise  # the run loop backs off and retries
        except Exception as exc:
            log.exception("window evaluation failed", extra={"model": ref.model_id})
            try:
                self._record_failure(ref, exc, failed)
            finally:
                self._results.release(ref)
            return 0
        return 1

    def _record_failure(
        self, ref: WindowRef, error: Exception, previous: WindowFailure | None
    ) -> None:
        """Durably: a failed result, an evaluation_failed alert, then the failure (when to
        retry). The record comes last: a crash before it leaves the window unfinished and
        unrecorded, so it is evaluated again at once and the same alert (same id) is produced
        again; recorded first, a crash would hold the alert back until the retry."""
        now_ms = int(self._clock() * 1000)
        attempts = (previous.attempts if previous else 0) + 1
        reason = f"{type(error).__name__}: {error}"[:2000]
        delay = self.options.failed_retry.delay(attempts, self._rand())
        retry_at = now_ms + int(delay * 1000)
        result, alert = detection.evaluation_failed(ref, reason, attempts, _utc(now_ms))
        self._results.save_result(result, False, self.options.hot_retention_seconds * 1000)
        self._produce_all(ref.model_id, [alert.model_dump_json().encode()])
        failure = WindowFailure(ref, reason, attempts, now_ms, retry_at)
        self._results.record_failure(failure, self.options.retention_seconds)
        self.metrics.failures.labels(ref.model_id).inc()
        log.warning(
            "window evaluation failed (attempt %d); retrying at %s: %s",
            attempts, _utc(retry_at).isoformat(), reason, extra={"model": ref.model_id},
        )  # fmt: skip

    def _prune(self, models: dict[str, ModelConfig], now_ms: int) -> None:
        """Once an hour, delete this shard's durable results past their retention."""
        durable = self._ports.durable
        if durable is None or (
            self._pruned_ms is not None and now_ms - self._pruned_ms < 3_600_000
        ):
            return
        self._pruned_ms = now_ms
        cutoff = now_ms - self.options.durable_retention_days * 86_400_000
        for config in self._finder.mine(models).values():
            durable.prune(endpoint_path(config), cutoff)

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
    def _evaluate(
        self, ref: WindowRef, config: ModelConfig, parts: list[int], close: int,
        failed: WindowFailure | None = None,
    ) -> None:  # fmt: skip
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
        if self._ports.attributions is not None:  # feature-attribution drift (attribution.py)
            self._ports.attributions(ref, config, now, self._produce_all)
        if failed is not None:  # clears the evaluation_failed alarm
            recovered = detection.evaluation_recovered(ref, failed.attempts, now)
            self._produce_all(ref.model_id, [recovered.model_dump_json().encode()])
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
            src = self._plotly_src(config, view, ref.size_ms)
            self._ports.write_reports(uri, window_files(view, found, baseline, config, src))
        if self._ports.durable is not None:  # before done: a crash re-writes the same file
            self._ports.durable.write(
                found.result, detection.report_path(config, view, ref.size_ms)
            )
        retention_ms = self.options.hot_retention_seconds * 1000
        self._results.save_result(found.result, view.windows > 1, retention_ms)
        self.metrics.observe_drift(found.result)
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
        """The model's baseline from the LRU (bounded in bytes); when the registry version
        moves, only the cached baselines whose own version changed are dropped."""
        version = self._registry.version()
        if version != self._baselines_version:
            cached = self._baselines.cached()
            if cached:
                self._baselines.invalidate_changed(self._registry.baseline_versions(cached))
            self._baselines_version = version
        value = self._baselines.get(model_id, lambda: self._load_baseline(model_id))
        self.metrics.baseline_cache_bytes.set(self._baselines.bytes)
        return value

    def _load_baseline(self, model_id: str) -> tuple[Baseline | None, int, int]:
        self.metrics.baseline_loads.inc()
        version = self._registry.baseline_versions([model_id])[model_id]
        files = self._registry.baseline_files(model_id)
        if files is None:
            return None, 1, version
        size = sum(len(b) for b in files.values())
        try:
            return Baseline.from_files(files, f"registry:{model_id}"), size, version
        except ModelmonError as exc:
            log.error("stored baseline unusable: %s", exc, extra={"model": model_id})
            return None, size, version

    # -- outputs --------------------------------------------------------------------------
    def _plotly_src(self, config: ModelConfig, view: detection.WindowView, size: int) -> str:
        """The relative URL of the one plotly.js every window report of this output shares
        (written once per process under ``{out}/_assets/``): 4.8 MB once, not per window."""
        from modelmon.report import plotly_asset_name, plotly_js

        name = plotly_asset_name()
        if not self._plotly_written and self.options.out and config.html_report:
            assets = self.options.out.rstrip("/") + "/" + ASSETS + "/"
            self._ports.write_reports(assets, {name: plotly_js()})
            self._plotly_written = True
        depth = detection.report_path(config, view, size).strip("/").count("/") + 1
        return "../" * depth + ASSETS + "/" + name

    def _report_uri(self, config: ModelConfig, view: detection.WindowView, size: int) -> str | None:
        if not self.options.out:
            return None
        return self.options.out.rstrip("/") + "/" + detection.report_path(config, view, size)

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


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)
