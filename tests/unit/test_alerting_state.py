"""The alert state machine: one notification per state change, cooldown in event time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from modelmon.alerting.plan import build_plan
from modelmon.alerting.state import KeyState, decide, notification_id, observations
from modelmon.config import AlertRoutes, ModelConfig, WebhookRoute
from modelmon.events import (
    AlertEvent,
    CheckOutcome,
    FeatureMetrics,
    WindowEvaluated,
    WindowResult,
    alert_key,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
KEY = alert_key("m1", "AllTraffic", "baseline_drift_check", "age")


def window(i: int, distance: float, threshold: float = 0.1) -> WindowEvaluated:
    start = T0 + i * HOUR
    result = WindowResult(
        model_id="m1",
        window_start=start,
        window_end=start + HOUR,
        evaluated_at=start + HOUR + timedelta(seconds=65),
        event_count=100,
        features={
            "age": FeatureMetrics(
                inferred_type="Integral",
                count=100,
                missing=0,
                completeness=1.0,
                distances={"linf_robust": distance},
            )
        },
        checks=[
            CheckOutcome(
                check_type="baseline_drift_check",
                feature="age",
                violated=distance > threshold,
                value=distance,
                threshold=threshold,
                method="linf_robust",
            )
        ],
    )
    return WindowEvaluated(event_id=f"m1/w{i}", model_id="m1", result=result)


def run(distances: list[float], cooldown: int = 0) -> list[AlertEvent]:
    """Feed one window per distance through decide(), as the router does, event by event."""
    states: dict[str, KeyState] = {}
    sent: list[AlertEvent] = []
    for i, d in enumerate(distances):
        decision = decide(states, observations(window(i, d), AlertRoutes()), cooldown)
        states.update(decision.states)
        sent.extend(decision.notifications)
    return sent


def test_a_violation_lasting_five_windows_is_one_alarm_then_one_resolved() -> None:
    sent = run([0.05, 0.3, 0.31, 0.4, 0.35, 0.33, 0.02, 0.01])
    assert [(n.state, n.window_start) for n in sent] == [
        ("ALARM", T0 + 1 * HOUR),
        ("OK", T0 + 6 * HOUR),
    ]
    assert sent[0].event_id == notification_id(KEY, T0 + HOUR, "ALARM")
    assert sent[0].event_id == "m1/AllTraffic/baseline_drift_check/age/2026-01-01T01:00:00Z/ALARM"
    assert (sent[0].value, sent[0].threshold, sent[0].feature) == (0.3, 0.1, "age")
    assert (sent[1].value, sent[1].state) == (0.02, "OK")


def test_passing_checks_alone_notify_nothing() -> None:
    assert run([0.01, 0.02, 0.03]) == []


def test_same_window_from_alert_event_and_window_evaluated_is_one_notification() -> None:
    ev = window(0, 0.3)
    decision = decide({}, observations(ev, AlertRoutes()), 0)
    note = decision.notifications[0]
    again = decide(decision.states, observations(note, AlertRoutes()), 0)
    assert len(decision.notifications) == 1
    assert again.notifications == []


def test_stale_window_is_ignored() -> None:
    first = decide({}, observations(window(5, 0.3), AlertRoutes()), 0)
    older = decide(first.states, observations(window(4, 0.01), AlertRoutes()), 0)
    assert older.notifications == [] and older.states == {}


def test_cooldown_mutes_a_flap_and_its_resolution() -> None:
    # alarm at w1, ok at w2, alarm again at w3 (2h after the first alarm's window end) muted
    # by a 3h cooldown; its resolution at w4 muted too; alarm at w6 is 5h later: notified.
    sent = run([0.0, 0.3, 0.0, 0.3, 0.0, 0.0, 0.3], cooldown=3 * 3600)
    assert [(n.state, n.window_start) for n in sent] == [
        ("ALARM", T0 + 1 * HOUR),
        ("OK", T0 + 2 * HOUR),
        ("ALARM", T0 + 6 * HOUR),
    ]


def test_rolling_views_are_not_alerted_on() -> None:
    ev = window(0, 0.3)
    rolling = ev.model_copy(update={"result": ev.result.model_copy(update={"rolling_windows": 3})})
    assert observations(rolling, AlertRoutes()) == []


def test_severity_comes_from_the_model_config() -> None:
    routes = AlertRoutes(severity={"baseline_drift_check": "critical"})
    decision = decide({}, observations(window(0, 0.3), routes), 0)
    assert decision.notifications[0].severity == "critical"


def test_plan_has_one_delivery_per_route_and_notification_and_cloudwatch_batches() -> None:
    config = ModelConfig(
        model_id="m1",
        alerts=AlertRoutes(
            sns_topic_arn="arn:aws:sns:us-east-1:123456789012:t",
            webhooks=[WebhookRoute(url="https://hooks.slack.com/services/T/B/secret-token")],
        ),
    )
    ev = window(0, 0.3)
    notes = decide({}, observations(ev, config.alerts), 0).notifications
    plan = build_plan(ev, config, notes)
    assert [(d.kind, d.route) for d in plan.deliveries] == [
        ("sns", "sns:arn:aws:sns:us-east-1:123456789012:t"),
        ("webhook", "webhook[0]:https://hooks.slack.com"),
        ("cloudwatch", "cloudwatch:aws/sagemaker/Endpoints/data-metrics"),
    ]
    assert len({d.id for d in plan.deliveries}) == 3
    assert [d.kind for d in build_plan(ev, config, notes, cloudwatch=False).deliveries] == [
        "sns",
        "webhook",
    ]
    assert build_plan(ev, config, notes, "arn:default").deliveries[0].topic_arn == (
        "arn:aws:sns:us-east-1:123456789012:t"
    )


def test_several_state_changes_go_to_slack_as_one_digest_and_to_json_one_by_one() -> None:
    config = ModelConfig(
        model_id="m1",
        alerts=AlertRoutes(
            webhooks=[
                WebhookRoute(url="https://hooks.slack.com/services/T/B/x", format="slack"),
                WebhookRoute(url="https://example.com/hook"),
            ]
        ),
    )
    ev = window(0, 0.3)
    second = ev.result.checks[0].model_copy(update={"feature": "income"})
    ev = ev.model_copy(
        update={"result": ev.result.model_copy(update={"checks": [*ev.result.checks, second]})}
    )
    notes = decide({}, observations(ev, config.alerts), 0).notifications
    plan = build_plan(ev, config, notes, cloudwatch=False)
    assert [(d.id.split("|")[0], len(d.digest)) for d in plan.deliveries] == [
        ("webhook1", 0),
        ("webhook1", 0),
        ("webhook0", 2),
    ]
    assert plan.deliveries[2].id == "webhook0|digest|m1/w0"
