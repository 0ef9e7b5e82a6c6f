"""The detector's feature-attribution step (docs/attribution.md).

When the detector evaluates a window of a model with an ``explainability`` section, it merges
the window's attribution partials — written by the aggregator of the capture topic (events
that carry ``attributions``) and by the aggregator of the attributions topic (the explainer's
output) — and evaluates them (``modelmon.attribution.evaluate``): NDCG per label against the
explainability baseline, ``feature_attribution_drift_check`` alert events on the alerts topic,
``analysis.json`` + ``constraint_violations.json`` + ``report.html`` under
``{endpoint}/{schedule}/yyyy/mm/dd/hh/[MMSS/]model-explainability/``, the explainability
CloudWatch metrics, and the model's attribution series in Redis. It runs inside the window's
evaluation, before the window is marked done: a crash evaluates it again (alert event ids
are deterministic, so the alerting service de-duplicates them).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from modelmon.attribution.checks import CHECK_TYPE
from modelmon.attribution.cloudwatch import ENDPOINT_NAMESPACE
from modelmon.attribution.evaluate import (
    FOLDER,
    AttributionEvaluation,
    AttributionSettings,
    alert_events,
    cloudwatch_data,
    evaluate_attributions,
    report_files,
)
from modelmon.attribution.html import attribution_page, attribution_section
from modelmon.attribution.state import AttributionState
from modelmon.config import ModelConfig, endpoint_name
from modelmon.keys import WindowRef
from modelmon.quality.evaluate import window_folder
from modelmon.streaming.detection import utc

log = logging.getLogger(__name__)

ReadAttributions = Callable[[WindowRef], AttributionState]
ProduceAll = Callable[[str, list[bytes]], None]


class AttributionStep:
    """Evaluates one window's attributions and sends the results out."""

    def __init__(
        self,
        read: ReadAttributions,
        *,
        out: str | None = None,
        write_reports: Callable[[str, dict[str, str]], None] | None = None,
        cloudwatch: Any | None = None,
        save: Callable[[str, int, dict[str, Any]], None] | None = None,
        expire: Callable[[WindowRef], None] | None = None,
    ) -> None:
        self._read, self._out, self._expire = read, out, expire
        self._write, self._cloudwatch, self._save = write_reports, cloudwatch, save

    def __call__(
        self, ref: WindowRef, config: ModelConfig, now: datetime, produce_all: ProduceAll
    ) -> AttributionEvaluation | None:
        """Evaluate and send out; ``produce_all`` delivers alert events (and waits for them)."""
        settings = AttributionSettings.of(config.explainability)
        if settings is None:
            return None
        state = self._read(ref)
        if not len(state):
            return None  # no attributions in this window (yet): nothing to evaluate
        window = (ref.start_ms, ref.start_ms + ref.size_ms)
        evaluation = evaluate_attributions(ref.model_id, window, state, settings)
        endpoint, route = endpoint_name(ref.model_id, config), config.alerts.cloudwatch
        if self._out and self._write is not None:
            self._write(
                self._folder(endpoint, route.schedule_name, window),
                self._files(evaluation, state, config),
            )
        severity = config.alerts.severity.get(CHECK_TYPE, "warning")
        events = alert_events(evaluation, now, severity)
        if events:
            produce_all(ref.model_id, [e.model_dump_json().encode() for e in events])
        if self._save is not None:
            self._save(ref.model_id, ref.start_ms, evaluation.to_json())
        if self._cloudwatch is not None and route.enabled:
            data = [d.to_aws() for d in cloudwatch_data(evaluation, endpoint, route.schedule_name)]
            try:
                for i in range(0, len(data), 20):
                    self._cloudwatch.put_metric_data(
                        Namespace=ENDPOINT_NAMESPACE, MetricData=data[i : i + 20]
                    )
            except Exception as exc:  # noqa: BLE001 - metrics are best effort: never fail a window
                log.warning("explainability metrics not published: %s", exc)
        if self._expire is not None:  # evaluated: the partials may go (as the profiles')
            self._expire(ref)
        log.info(
            "attributions evaluated",
            extra={
                "model": ref.model_id,
                "window_start": utc(ref.start_ms).isoformat(),
                "ndcg": [c.ndcg for c in evaluation.checks],
            },
        )
        return evaluation

    def _folder(self, endpoint: str, schedule: str, window: tuple[int, int]) -> str:
        assert self._out is not None
        return self._out.rstrip("/") + "/" + window_folder(endpoint, schedule, window) + FOLDER

    @staticmethod
    def _files(
        evaluation: AttributionEvaluation, state: AttributionState, config: ModelConfig
    ) -> dict[str, str]:
        files = report_files(evaluation)
        if config.html_report:
            title = f"modelmon: {evaluation.model_id}, feature attribution"
            meta = (
                f"window {utc(evaluation.window_start_ms):%Y-%m-%d %H:%M:%S} – "
                f"{utc(evaluation.window_end_ms):%Y-%m-%d %H:%M:%S} UTC"
            )
            files["report.html"] = attribution_page(
                title, [attribution_section(evaluation, state)], meta
            )
        return files


def attribution_step(
    settings: Any, redis: Any, keys: Any, topic: str, out: str | None, partial_ttl: int = 3600
) -> AttributionStep:
    """The real step: partials of the capture topic and the attributions topic, reports via
    ``ReportWriter``, CloudWatch when a client can be made, the series in Redis."""
    from modelmon.adapters.reports import ReportWriter
    from modelmon.streaming.attribution_store import (
        AttributionStore,
        expire_window,
        window_attributions,
    )
    from modelmon.streaming.results import save_window_doc

    stores = [
        AttributionStore(redis, keys, t)
        for t in dict.fromkeys([topic, settings.topics.attributions])
    ]

    def save(model_id: str, start_ms: int, doc: dict[str, Any]) -> None:
        save_window_doc(redis, keys.attribution_results(model_id), start_ms, doc)

    return AttributionStep(
        lambda ref: window_attributions(stores, ref),
        out=out,
        write_reports=ReportWriter(settings.aws, out).write if out else None,
        cloudwatch=_cloudwatch(settings),
        save=save,
        expire=lambda ref: expire_window(stores, ref, partial_ttl),
    )


def _cloudwatch(settings: Any) -> Any | None:
    try:
        from modelmon.adapters.aws import boto_client

        return boto_client(settings.aws, "cloudwatch")
    except Exception as exc:  # noqa: BLE001 - CloudWatch is optional: log and go on
        log.warning("CloudWatch unavailable, explainability metrics not published: %s", exc)
        return None
