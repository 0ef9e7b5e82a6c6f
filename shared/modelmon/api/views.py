"""Pure read models: what the API answers, computed from what the detector and alerting stored.

No I/O and no clock: "the last day" is the 24 hours before the model's last window ends, so
the same stored state gives the same answer whenever it is asked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime

from modelmon.alerting.state import KeyState
from modelmon.api.schema import (
    AlarmState,
    AlertTransition,
    Health,
    HeatCell,
    HeatMap,
    ModelSummary,
    Violation,
    WindowBrief,
)
from modelmon.drift import get_method
from modelmon.errors import ModelmonError
from modelmon.events import CheckOutcome, WindowResult
from modelmon.registry import ModelEntry

DRIFT = "baseline_drift_check"


def utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def brief(result: WindowResult) -> WindowBrief:
    drifted = sorted({c.feature for c in result.checks if c.violated and c.check_type == DRIFT})
    return WindowBrief(
        window_start=result.window_start,
        window_end=result.window_end,
        evaluated_at=result.evaluated_at,
        event_count=result.event_count,
        late_event_count=result.late_event_count,
        violations=sum(1 for c in result.checks if c.violated),
        drifted_features=drifted,
    )


def alarm_states(states: Mapping[str, KeyState]) -> list[AlarmState]:
    """Alerting's states, ALARM first, then by key."""
    out = []
    for key, st in states.items():
        parts = key.split("/", 3)
        variant, check, feature = [*parts, "", "", ""][1:4]
        out.append(
            AlarmState(
                alert_key=key,
                variant=variant,
                check_type=check,
                feature=feature,
                state=st.state,
                since=st.since,
                window_end=st.window_end,
                notified=st.notified,
            )
        )
    return sorted(out, key=lambda a: (a.state != "ALARM", a.alert_key))


def health(last: WindowResult | None, alarms: Sequence[AlarmState]) -> Health:
    if any(a.state == "ALARM" for a in alarms):
        return "alarm"
    if last is None:
        return "no_data"
    return "drift" if any(c.violated for c in last.checks) else "ok"


def summary(
    model_id: str,
    entry: ModelEntry,
    last: WindowResult | None,
    violations: Mapping[int, int],
    alarms: Sequence[AlarmState],
) -> ModelSummary:
    return ModelSummary(
        model_id=model_id,
        health=health(last, alarms),
        window_seconds=entry.config.window.size_seconds,
        features=len(entry.config.features),
        has_baseline=entry.has_baseline,
        registry_version=entry.version,
        changed_at=utc(entry.changed_at_ms),
        last_window=brief(last) if last else None,
        violations_last_day=sum(violations.values()),
        open_alarms=sum(1 for a in alarms if a.state == "ALARM"),
    )


def severity(outcome: CheckOutcome) -> float | None:
    """How far a drift check is from its threshold: >1 is drifted, whichever the direction."""
    value, threshold = outcome.value, outcome.threshold
    if value is None or threshold is None:
        return None
    higher = higher_is_worse(outcome.method)
    if higher:
        return value / threshold if threshold > 0 else (0.0 if value <= 0 else float("inf"))
    return threshold / value if value > 0 else float("inf")


def higher_is_worse(method: str | None) -> bool:
    """False for p-value methods (drift when the value falls below the threshold)."""
    if method is None:
        return True
    try:
        return get_method(method).higher_is_worse
    except ModelmonError:
        return True


#: Severities are capped here (JSON has no infinity): a p-value of 0, a threshold of 0.
MAX_SEVERITY = 1e6


def _capped(x: float | None) -> float | None:
    return None if x is None else min(x, MAX_SEVERITY)


def heat_map(model_id: str, results: Sequence[WindowResult]) -> HeatMap:
    """Drift severity per feature (rows, sorted) and window (columns, oldest first)."""
    features = sorted({c.feature for r in results for c in r.checks if c.check_type == DRIFT})
    row = {f: i for i, f in enumerate(features)}
    cells: list[list[HeatCell | None]] = [[None] * len(results) for _ in features]
    for w, result in enumerate(results):
        for c in result.checks:
            if c.check_type == DRIFT:
                cells[row[c.feature]][w] = HeatCell(
                    value=c.value,
                    threshold=c.threshold,
                    severity=_capped(severity(c)),
                    violated=c.violated,
                )
    return HeatMap(
        model_id=model_id,
        features=features,
        windows=[r.window_start for r in results],
        cells=cells,
    )


def violations(results: Iterable[WindowResult]) -> list[Violation]:
    return [
        Violation(window_start=r.window_start, window_end=r.window_end, outcome=c)
        for r in results
        for c in r.checks
        if c.violated
    ]


def transitions(model_id: str, results: Iterable[WindowResult]) -> list[AlertTransition]:
    """Each check's changes of state over the windows (oldest first): ALARM when it becomes
    violated, OK when it passes again. The first window of a key only counts if violated."""
    state: dict[str, bool] = {}
    out = []
    for r in results:
        for c in r.checks:
            key = f"{model_id}/{r.variant}/{c.check_type}/{c.feature}"
            if state.get(key, False) == c.violated:
                continue
            state[key] = c.violated
            out.append(
                AlertTransition(
                    alert_key=key,
                    check_type=c.check_type,
                    feature=c.feature,
                    state="ALARM" if c.violated else "OK",
                    window_start=r.window_start,
                    window_end=r.window_end,
                    value=c.value,
                    threshold=c.threshold,
                    description=c.description,
                )
            )
    return out
