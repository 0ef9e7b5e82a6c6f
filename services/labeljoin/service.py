"""The label-join loop: route a batch, join a batch, flush on the cadence; retries in one place."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from modelmon.adapters.reports import ReportWriter
from modelmon.bias.cloudwatch import ENDPOINT_NAMESPACE as BIAS_NAMESPACE
from modelmon.bias.stream import BiasEvaluation, bias_alert_events
from modelmon.bias.stream import cloudwatch_data as bias_cloudwatch_data
from modelmon.bias.stream import report_files as bias_report_files
from modelmon.errors import TransientError
from modelmon.keys import Keys
from modelmon.quality.evaluate import (
    MODEL_METRICS_NAMESPACE,
    QualityEvaluation,
    alert_events,
    cloudwatch_metric_data,
    report_files,
    report_path,
    window_folder,
)
from modelmon.quality.html import quality_report_html
from modelmon.quality.join import ModelQuality
from modelmon.service import Health, StopFlag
from modelmon.settings import AwsSettings
from modelmon.streaming.results import save_window_doc

from .joiner import Joiner
from .router import Router

log = logging.getLogger(__name__)


def retry_until_stopped(stop: StopFlag, health: Health) -> Callable[[str, Callable[[], Any]], Any]:
    """Run an action, retrying TransientError with capped, jittered backoff (one policy)."""

    def retry(what: str, action: Callable[[], Any]) -> Any:
        attempt = 0
        while True:
            try:
                result = action()
            except TransientError as exc:
                attempt += 1
                delay = min(30.0, 0.25 * 2 ** min(attempt, 7)) * (0.5 + random.random() / 2)
                health.set_ready(False, f"cannot {what}: {exc}")
                log.warning("cannot %s (attempt %d), retrying in %.1fs: %s", what, attempt,
                            delay, exc)  # fmt: skip
                if stop.wait(delay) and attempt > 3:
                    raise
                continue
            if attempt:
                health.set_ready(True, "consuming")
            return result

    return retry


class Publisher:
    """Sends an evaluation out: alert events, CloudWatch data, the model's quality series."""

    def __init__(
        self,
        produce: Callable[[str, bytes | None, bytes], None],
        alerts_topic: str,
        redis: Any,
        keys: Keys,
        cloudwatch: Any | None,
        routes: Callable[[str, str], tuple[str, str, str, bool]],
        write_reports: Callable[[str, dict[str, str]], None] | None = None,
    ) -> None:
        self._produce, self._topic, self._redis, self._keys = produce, alerts_topic, redis, keys
        self._cloudwatch, self._routes, self._write = cloudwatch, routes, write_reports

    def __call__(self, result: QualityEvaluation, model: ModelQuality) -> None:
        endpoint, schedule, severity, cloudwatch_on = self._routes(
            result.model_id, "model_quality_check"
        )
        if model.constraints:
            now = datetime.now(UTC)
            for event in alert_events(result, model.constraints, now, severity):
                self._produce(
                    self._topic, result.model_id.encode(), event.model_dump_json().encode()
                )
        if self._write is not None:
            page = {"report.html": quality_report_html(result, model.constraints)}
            self._write(report_path(endpoint, schedule, result), report_files(result) | page)
        key = self._keys.quality_results(result.model_id)
        save_window_doc(self._redis, key, result.window_start_ms, result.to_json())
        if self._cloudwatch is not None and cloudwatch_on:
            data = cloudwatch_metric_data(result, endpoint, schedule)
            for i in range(0, len(data), 20):
                self._cloudwatch.put_metric_data(
                    Namespace=MODEL_METRICS_NAMESPACE, MetricData=data[i : i + 20]
                )

    def bias(self, result: BiasEvaluation, model: ModelQuality) -> None:
        """Sends a bias evaluation out: ``bias_drift_check`` alert events, analysis.json and
        constraint_violations.json beside the quality reports (``model-bias/``), the model's
        bias series and ``bias_metric_*`` data under ``aws/sagemaker/Endpoints/bias-metrics``."""
        endpoint, schedule, severity, cloudwatch_on = self._routes(
            result.model_id, "bias_drift_check"
        )
        baseline = model.bias.baseline if model.bias is not None else None
        if baseline:
            now = datetime.now(UTC)
            for event in bias_alert_events(result, baseline, now, severity):
                self._produce(
                    self._topic, result.model_id.encode(), event.model_dump_json().encode()
                )
        if self._write is not None:
            window = (result.window_start_ms, result.window_end_ms)
            folder = window_folder(endpoint, schedule, window) + "model-bias/"
            self._write(folder, bias_report_files(result, baseline))
        key = self._keys.bias_results(result.model_id)
        save_window_doc(self._redis, key, result.window_start_ms, result.to_json())
        if self._cloudwatch is not None and cloudwatch_on:
            data = [d.to_aws() for d in bias_cloudwatch_data(result, endpoint, schedule)]
            for i in range(0, len(data), 20):
                self._cloudwatch.put_metric_data(
                    Namespace=BIAS_NAMESPACE, MetricData=data[i : i + 20]
                )


def report_writer(out: str, aws: AwsSettings) -> Callable[[str, dict[str, str]], None]:
    """Writes report files at ``path`` under ``out`` (a directory, where no path may escape
    it, or s3://bucket/prefix with the configured encryption): the detector's writer."""
    writer = ReportWriter(aws, out)
    base = out.rstrip("/") + "/"

    def write(path: str, found: dict[str, str]) -> None:
        writer.write(base + path, found)

    return write


def store_rolling(redis: Any, keys: Keys) -> Callable[[QualityEvaluation], None]:
    """Keeps rolling-view evaluations in the model's rolling quality series (not alerted on,
    as the detector's rolling views are not)."""

    def store(result: QualityEvaluation) -> None:
        key = keys.quality_rolling_results(result.model_id)
        save_window_doc(redis, key, result.window_end_ms, result.to_json())

    return store


class LabelJoinService:
    """Alternates the router and the joiner in one thread; flushes every ``flush_seconds``."""

    def __init__(
        self, router: Router, joiner: Joiner, stop: StopFlag, health: Health,
        flush_seconds: float, batch_size: int, on_flush: Callable[[], None] = lambda: None,
    ) -> None:  # fmt: skip
        self.router, self.joiner, self.stop, self.health = router, joiner, stop, health
        self.flush_seconds, self.batch_size, self._on_flush = flush_seconds, batch_size, on_flush

    def run(self) -> None:
        self.router.start()
        self.joiner.start()
        self.health.set_ready(True, "consuming")
        last = time.monotonic()
        try:
            while not self.stop.is_set():
                self.router.step(self.batch_size, 0.05)
                self.joiner.step(self.batch_size, 0.05)
                if time.monotonic() - last >= self.flush_seconds:
                    self.joiner.flush()
                    self._on_flush()
                    last = time.monotonic()
        finally:
            self.health.set_ready(False, "stopping")
            self.router.close()
            self.joiner.close()
            self._on_flush()
