"""Alerting's crash window against real Redis (docs/streaming.md, "Crash windows").

Deciding an event stores its plan and the alert state it changes in one transaction; the
deliveries follow. If the service dies between the two and stays down longer than the
de-duplication window (``dedup_hours``), the replayed event must still find its plan: the state
already says ALARM, so deciding again would notify nobody. A pending plan therefore outlives
the de-duplication window; only the ``done`` marker expires with it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from modelmon.alerting.plan import Delivery
from modelmon.alerting.retry import RetryPolicy
from modelmon.alerting.router import Router, RouterDeps
from modelmon.alerting.store import PENDING_PLAN_TTL, AlertingStore
from modelmon.alerting.telemetry import AlertingMetrics
from modelmon.keys import Keys, WindowRef
from modelmon.streaming.detection import evaluation_failed

DEDUP_SECONDS = 60
TOPIC_ARN = "arn:aws:sns:us-east-1:000000000000:alerts"


class Killed(BaseException):
    """The process dies in the middle of the delivery."""


def _router(store: AlertingStore, send: Any) -> Router:
    def no_dead_letters(original: bytes, error: Exception, model_id: str) -> None:
        raise AssertionError(f"nothing should be dead-lettered: {error}")

    return Router(
        RouterDeps(
            store=store, senders={"sns": send}, get_config=lambda _m: None,
            dead_letter=no_dead_letters, policy=RetryPolicy(), sleep=lambda _s: None,
            rand=lambda: 0.5, clock=lambda: 0.0, metrics=AlertingMetrics(CollectorRegistry()),
            default_sns_topic=TOPIC_ARN, cloudwatch_enabled=False,
        )
    )  # fmt: skip


def test_a_plan_pending_at_a_crash_outlives_the_dedup_window_and_is_delivered_on_replay(
    redis_client: Any, redis_prefix: str
) -> None:
    store = AlertingStore(redis_client, redis_prefix, plan_ttl=DEDUP_SECONDS)
    ref = WindowRef("churn", 10_000, 1_767_225_600_000)
    _, alarm = evaluation_failed(ref, "OSError: disk", 1, datetime(2026, 1, 1, tzinfo=UTC))
    plan_key = Keys(redis_prefix).alert_plan("churn", alarm.event_id)

    def dies(delivery: Delivery) -> None:
        raise Killed

    with pytest.raises(Killed):
        _router(store, dies).handle(alarm)
    assert {s.state for s in store.states("churn").values()} == {"ALARM"}  # decided, stored
    # the plan is kept past the de-duplication window: an outage longer than it loses nothing
    assert redis_client.ttl(plan_key) > PENDING_PLAN_TTL - 60 > DEDUP_SECONDS

    sent: list[Delivery] = []
    plan = _router(store, sent.append).handle(alarm)  # the replay after the restart
    assert [d.id for d in sent] == [d.id for d in plan.deliveries] and len(sent) == 1
    note = sent[0].notification
    assert note is not None and (note.check_type, note.state) == ("evaluation_failed", "ALARM")
    assert 0 < redis_client.ttl(plan_key) <= DEDUP_SECONDS  # done: only the dedup marker left
    assert _router(store, sent.append).handle(alarm).deliveries == [] and len(sent) == 1
