"""From a merged window profile to a WindowResult, alert events and report paths (pure).

Event ids are derived from (model, window, check, feature), so evaluating a window twice
(a detector that crashed after producing, then a retry) produces the same ids: consumers
deduplicate on them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from modelmon.checks import Baseline, Evaluation, evaluate, feature_metrics
from modelmon.config import ModelConfig, endpoint_name
from modelmon.events import AlertEvent, WindowEvaluated, WindowResult, window_alert
from modelmon.keys import WindowRef
from modelmon.names import check_name
from modelmon.profile import DatasetProfile
from modelmon.sagemaker.build import build_statistics
from modelmon.sagemaker.files import dumps

#: Namespace of the deterministic event ids (uuid5).
EVENT_NAMESPACE = uuid.UUID("0f4c2a8e-5b7d-4c59-9a53-2f1d6f0e7a11")


def utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def event_id(*parts: object) -> str:
    """A stable id for the same fact: uuid5 of the parts joined by '/'."""
    return str(uuid.uuid5(EVENT_NAMESPACE, "/".join(str(p) for p in parts)))


@dataclass(frozen=True)
class WindowView:
    """What is evaluated: one window, or the rolling merge of the last ``windows`` windows."""

    model_id: str
    start_ms: int  # start of the first window merged
    end_ms: int  # end of the last window merged
    windows: int
    profile: DatasetProfile
    late: int

    @property
    def id_parts(self) -> tuple[object, ...]:
        return (self.model_id, self.start_ms, self.end_ms, self.windows)


def single(ref: WindowRef, profile: DatasetProfile, late: int) -> WindowView:
    return WindowView(ref.model_id, ref.start_ms, ref.end_ms, 1, profile, late)


def rolling(last: WindowRef, profiles: list[DatasetProfile]) -> WindowView:
    """The merge of ``profiles``: the windows with events among the last K, ending with
    ``last``; the view spans as many window lengths as profiles were merged."""
    merged = DatasetProfile.zero()
    for p in profiles:
        merged = merged.merge(p)
    start = last.start_ms - (len(profiles) - 1) * last.size_ms
    return WindowView(last.model_id, start, last.end_ms, len(profiles), merged, 0)


@dataclass(frozen=True)
class Detection:
    result: WindowResult
    evaluation: Evaluation | None  # None without a baseline: figures only, no checks


def detect(
    view: WindowView,
    config: ModelConfig,
    baseline: Baseline | None,
    evaluated_at: datetime,
    report_uri: str | None,
) -> Detection:
    """Evaluate a window view against the baseline (figures only when there is none)."""
    if baseline is not None:
        evaluation: Evaluation | None = evaluate(baseline, view.profile, config)
        assert evaluation is not None
        features = dict(evaluation.features)
        checks = list(evaluation.checks)
    else:
        evaluation = None
        features = {n: feature_metrics(p, {}) for n, p in view.profile.features.items()}
        checks = []
    result = WindowResult(
        model_id=view.model_id,
        window_start=utc(view.start_ms),
        window_end=utc(view.end_ms),
        rolling_windows=view.windows,
        evaluated_at=evaluated_at,
        event_count=view.profile.row_count,
        late_event_count=view.late,
        features=features,
        checks=checks,
        report_uri=report_uri,
    )
    return Detection(result, evaluation)


def alert_events(
    view: WindowView, detection: Detection, config: ModelConfig, detected_at: datetime
) -> list[AlertEvent]:
    """One ALARM per violated check, with a deterministic id."""
    result = detection.result
    rolling_note = f" (rolling view of {view.windows} windows)" if view.windows > 1 else ""
    return [
        window_alert(
            view.model_id,
            (view.start_ms, view.end_ms),
            c.check_type,
            c.feature,
            event_id=event_id(*view.id_parts, c.check_type, c.feature),
            description=c.description + rolling_note,
            detected_at=detected_at,
            variant=result.variant,
            value=c.value,
            threshold=c.threshold,
            method=c.method,
            severity=config.alerts.severity.get(c.check_type, "warning"),
            report_uri=result.report_uri,
        )
        for c in result.violations
    ]


def window_evaluated(view: WindowView, detection: Detection) -> WindowEvaluated:
    return WindowEvaluated(
        event_id=event_id(*view.id_parts, "evaluated"),
        model_id=view.model_id,
        result=detection.result,
    )


def report_path(config: ModelConfig, view: WindowView, size_ms: int) -> str:
    """``{endpoint}/{schedule}/yyyy/mm/dd/hh/`` as SageMaker lays out monitoring outputs
    (``endpoint_name``'s rule: the configured endpoint name, else the model id).

    Windows shorter than an hour add ``MMSS/`` (the window start) so that they do not
    overwrite each other; a rolling view adds ``rolling-K/``.
    """
    start = utc(view.end_ms - size_ms)
    endpoint = check_name(endpoint_name(config.model_id, config), "endpoint name")
    path = f"{endpoint}/{check_name(config.schedule_name, 'schedule name')}/{start:%Y/%m/%d/%H}/"
    if size_ms < 3_600_000:
        path += f"{start:%M%S}/"
    if view.windows > 1:
        path += f"rolling-{view.windows}/"
    return path


def report_files(
    view: WindowView, detection: Detection, baseline: Baseline | None
) -> dict[str, str]:
    """statistics.json (of the window) and constraint_violations.json, as text."""
    order = baseline.feature_names if baseline is not None else None
    files = {"statistics.json": dumps(build_statistics(view.profile, order).to_dict())}
    if detection.evaluation is not None:
        violations = detection.evaluation.constraint_violations().to_dict()
        files["constraint_violations.json"] = dumps(violations)
    return files


def evaluation_recovered(ref: WindowRef, attempts: int, now: datetime) -> AlertEvent:
    """The ``OK`` that clears a window's ``evaluation_failed`` alarm once it evaluated."""
    return window_alert(
        ref.model_id, (ref.start_ms, ref.end_ms), "evaluation_failed", "*",
        event_id=event_id(ref.model_id, ref.start_ms, ref.end_ms, "evaluation_recovered"),
        description=f"window evaluated after {attempts} failed attempt(s)", detected_at=now,
        severity="critical", state="OK",
    )  # fmt: skip


def evaluation_failed(
    ref: WindowRef, reason: str, attempts: int, now: datetime
) -> tuple[WindowResult, AlertEvent]:
    """The failed result of a window the detector could not evaluate, and its alert (kind
    ``evaluation_failed``, feature ``*``); ids repeat for the same window and attempt."""
    start, end = utc(ref.start_ms), utc(ref.end_ms)
    result = WindowResult(
        model_id=ref.model_id, window_start=start, window_end=end, evaluated_at=now,
        event_count=0, features={}, checks=[], status="failed", failure_reason=reason,
    )  # fmt: skip
    alert = window_alert(
        ref.model_id, (ref.start_ms, ref.end_ms), "evaluation_failed", "*",
        event_id=event_id(ref.model_id, ref.start_ms, ref.end_ms, "evaluation_failed", attempts),
        description=f"window could not be evaluated (attempt {attempts}): {reason}",
        detected_at=now, variant=result.variant, severity="critical",
    )  # fmt: skip
    return result, alert
