"""The alert state machine: one state (OK or ALARM) per alert key, changed by check outcomes.

A notification goes out when a key *changes* state: into ALARM when its check is violated, and
back to OK ("resolved") when the check passes again, never once per window while it stays
violated. Both kinds of event on the alerts topic feed it: a ``WindowEvaluated`` carries every
check outcome of a window (violated or not), an ``AlertEvent`` one violated (or cleared) check.
The two agree for the same window, so feeding both is idempotent.

Cooldown is measured in event time (window ends), not wall-clock time, so a replay decides
exactly as the first run did: after an ALARM notification for a key, a new ALARM episode of
that key starting less than ``cooldown_seconds`` later is recorded but not notified, and
neither is its resolution.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict

from modelmon.config import AlertRoutes
from modelmon.events import AlertEvent, AlertKind, WindowEvaluated, alert_key

AlertState = Literal["ALARM", "OK"]
Severity = Literal["info", "warning", "critical"]


class Observation(BaseModel):
    """One check of one feature in one window, as alerting sees it."""

    model_config = ConfigDict(frozen=True)

    alert_key: str
    model_id: str
    variant: str
    check_type: AlertKind
    feature: str
    violated: bool
    value: float | None
    threshold: float | None
    method: str | None
    description: str
    severity: Severity
    window_start: datetime
    window_end: datetime
    report_uri: str | None
    detected_at: datetime


class KeyState(BaseModel):
    """What alerting remembers of one alert key (stored as JSON in Redis)."""

    model_config = ConfigDict(frozen=True)

    state: AlertState
    window_end: datetime
    since: datetime
    notified: bool = False
    last_alarm_notified: datetime | None = None


@dataclass(frozen=True)
class Decision:
    """New states for the keys that changed, and the notifications to deliver."""

    states: dict[str, KeyState] = field(default_factory=dict)
    notifications: list[AlertEvent] = field(default_factory=list)


def notification_id(key: str, window_start: datetime, state: AlertState) -> str:
    """Deterministic id of a state change (the detector's AlertEvent ids use the same form)."""
    return f"{key}/{window_start.strftime('%Y-%m-%dT%H:%M:%SZ')}/{state}"


def observations(event: AlertEvent | WindowEvaluated, routes: AlertRoutes) -> list[Observation]:
    """The check outcomes an event carries. Rolling views (K > 1 windows) are not alerted on."""
    if isinstance(event, AlertEvent):
        return [_from_alert(event, routes)]
    result = event.result
    if result.rolling_windows != 1:
        return []
    return [
        Observation(
            alert_key=alert_key(result.model_id, result.variant, c.check_type, c.feature),
            model_id=result.model_id,
            variant=result.variant,
            check_type=c.check_type,
            feature=c.feature,
            violated=c.violated,
            value=c.value,
            threshold=c.threshold,
            method=c.method,
            description=c.description,
            severity=routes.severity.get(c.check_type, "warning"),
            window_start=result.window_start,
            window_end=result.window_end,
            report_uri=result.report_uri,
            detected_at=result.evaluated_at,
        )
        for c in result.checks
    ]


def _from_alert(event: AlertEvent, routes: AlertRoutes) -> Observation:
    return Observation(
        alert_key=event.alert_key,
        model_id=event.model_id,
        variant=event.variant,
        check_type=event.check_type,
        feature=event.feature,
        violated=event.state == "ALARM",
        value=event.value,
        threshold=event.threshold,
        method=event.method,
        description=event.description,
        severity=routes.severity.get(event.check_type, event.severity),
        window_start=event.window_start,
        window_end=event.window_end,
        report_uri=event.report_uri,
        detected_at=event.detected_at,
    )


def decide(
    states: Mapping[str, KeyState], seen: Iterable[Observation], cooldown_seconds: int
) -> Decision:
    """Apply observations in window order; return the changed states and notifications."""
    current = dict(states)
    decision = Decision()
    for obs in sorted(seen, key=lambda o: o.window_end):
        before = current.get(obs.alert_key)
        after, note = _step(before, obs, cooldown_seconds)
        if after != before:
            current[obs.alert_key] = after
            decision.states[obs.alert_key] = after
        if note is not None:
            decision.notifications.append(note)
    return decision


def _step(
    before: KeyState | None, obs: Observation, cooldown_seconds: int
) -> tuple[KeyState, AlertEvent | None]:
    if before is not None and obs.window_end < before.window_end:
        return before, None  # stale: an older window arriving after a newer one
    new_state: AlertState = "ALARM" if obs.violated else "OK"
    if before is not None and before.state == new_state:
        return before.model_copy(update={"window_end": obs.window_end}), None
    if new_state == "ALARM":
        last = before.last_alarm_notified if before else None
        cooling = last is not None and obs.window_end - last < timedelta(seconds=cooldown_seconds)
        after = KeyState(
            state="ALARM",
            window_end=obs.window_end,
            since=obs.window_start,
            notified=not cooling,
            last_alarm_notified=last if cooling else obs.window_end,
        )
        return after, None if cooling else _notification(obs, "ALARM")
    after = KeyState(
        state="OK",
        window_end=obs.window_end,
        since=obs.window_start,
        last_alarm_notified=before.last_alarm_notified if before else None,
    )
    was_notified = before is not None and before.notified
    return after, _notification(obs, "OK") if was_notified else None


def _notification(obs: Observation, state: AlertState) -> AlertEvent:
    return AlertEvent(
        event_id=notification_id(obs.alert_key, obs.window_start, state),
        alert_key=obs.alert_key,
        model_id=obs.model_id,
        variant=obs.variant,
        window_start=obs.window_start,
        window_end=obs.window_end,
        check_type=obs.check_type,
        feature=obs.feature,
        value=obs.value,
        threshold=obs.threshold,
        method=obs.method,
        severity=obs.severity,
        state=state,
        description=obs.description,
        report_uri=obs.report_uri,
        detected_at=obs.detected_at,
    )
