"""One event from the alerts topic through every route, each delivery done exactly once.

``Router.handle`` decides (state machine + plan, stored atomically in Redis), then works the
plan: a delivery already recorded is skipped; any other is sent with retries, and after the
last retry it is dead-lettered; either way its outcome is recorded before the next one. When
``handle`` returns, every route has delivered or dead-lettered and the caller may commit the
offset. A dependency outage (Redis, the dead-letter producer) raises ``TransientError``: the
caller retries the event later without committing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from modelmon.alerting.plan import Delivery, Plan, RouteKind, build_plan
from modelmon.alerting.retry import (
    RejectedDeliveryError,
    RetryableDeliveryError,
    RetryPolicy,
    run_with_retries,
)
from modelmon.alerting.state import KeyState, decide, observations
from modelmon.alerting.store import AlertingStore
from modelmon.alerting.telemetry import AlertingMetrics
from modelmon.config import ModelConfig
from modelmon.errors import ModelmonError
from modelmon.events import AlertEvent, WindowEvaluated

log = logging.getLogger(__name__)

Sender = Callable[[Delivery], None]
#: Dead-letters a failed delivery: (original bytes, error, model id). Must not return until the
#: record is durably produced (raise TransientError otherwise).
DeadLetter = Callable[[bytes, Exception, str], None]


class Interrupted(ModelmonError):
    """The process is stopping in the middle of a delivery: do not commit the offset."""


@dataclass
class RouterDeps:
    """What the router needs from the outside world (handed in by the service wiring)."""

    store: AlertingStore
    senders: Mapping[RouteKind, Sender]
    get_config: Callable[[str], ModelConfig | None]
    dead_letter: DeadLetter
    policy: RetryPolicy
    sleep: Callable[[float], None]
    rand: Callable[[], float]
    clock: Callable[[], float]
    metrics: AlertingMetrics
    should_stop: Callable[[], bool] = lambda: False
    default_sns_topic: str | None = None
    cloudwatch_enabled: bool = True
    #: Deliveries of one event sent at the same time (1: one after the other).
    concurrency: int = 1


class Router:
    """Routes events per model config; see the module docstring for the guarantees.

    The deliveries of one event may run concurrently (``concurrency``); events are handled one
    after the other, so a route always gets a key's ALARM before its OK.
    """

    def __init__(self, deps: RouterDeps) -> None:
        self._d = deps
        self._pool = (
            ThreadPoolExecutor(deps.concurrency, thread_name_prefix="delivery")
            if deps.concurrency > 1
            else None
        )

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def config(self, model_id: str) -> ModelConfig:
        """The registered config, or the defaults (CloudWatch on, default SNS topic)."""
        return self._d.get_config(model_id) or ModelConfig(model_id=model_id)

    def handle(self, event: AlertEvent | WindowEvaluated) -> Plan:
        plan = self.prepare(event)
        done = self._d.store.outcomes(plan.model_id, plan.event_id)
        todo = [d for d in plan.deliveries if d.id not in done]
        for skipped in (d for d in plan.deliveries if d.id in done):
            self._d.metrics.deliveries.labels(skipped.kind, "skipped").inc()
        if self._pool is None or len(todo) < 2:
            for delivery in todo:
                self._deliver(plan, delivery)
        else:
            self._deliver_all(plan, todo, self._pool)
        if plan.deliveries:
            self._d.store.finish(plan.model_id, plan.event_id)
        return plan

    def _deliver_all(self, plan: Plan, todo: list[Delivery], pool: ThreadPoolExecutor) -> None:
        """Deliver concurrently; every delivery finishes (or stops) before an error is raised."""
        futures = [pool.submit(self._deliver, plan, d) for d in todo]
        errors = [f.exception() for f in futures]
        failed = [e for e in errors if e is not None]
        if failed:  # Interrupted first, then outages, then anything else
            failed.sort(key=lambda e: 0 if isinstance(e, Interrupted) else 1)
            raise failed[0]

    def prepare(self, event: AlertEvent | WindowEvaluated) -> Plan:
        """The event's plan: stored already (a replay), or decided now and stored."""
        config = self.config(event.model_id)
        seen = observations(event, config.alerts)

        def decide_plan(current: dict[str, KeyState]) -> tuple[Plan, dict[str, KeyState]]:
            decision = decide(current, seen, config.alerts.cooldown_seconds)
            plan = build_plan(
                event,
                config,
                decision.notifications,
                self._d.default_sns_topic,
                self._d.cloudwatch_enabled,
            )
            return plan, decision.states

        keys = sorted({o.alert_key for o in seen})
        return self._d.store.prepare(event.event_id, event.model_id, keys, decide_plan)

    def _delivered(self, plan: Plan, delivery: Delivery) -> None:
        d = self._d
        note = delivery.notification or (delivery.digest[0] if delivery.digest else None)
        d.store.record(plan.model_id, plan.event_id, delivery.id, "delivered")
        d.metrics.deliveries.labels(delivery.kind, "delivered").inc()
        if note is not None:
            age = d.clock() - note.detected_at.timestamp()
            d.metrics.latency.labels(delivery.kind).observe(max(0.0, age))
            where = {"model": plan.model_id, "route": delivery.route, "alert_key": note.alert_key}
            log.info("notified %s %s", note.state, note.event_id, extra=where)

    def _deliver(self, plan: Plan, delivery: Delivery) -> None:
        d, kind = self._d, delivery.kind

        def on_retry(attempt: int, exc: Exception) -> None:
            d.metrics.retries.labels(kind).inc()
            log.info(
                "delivery failed, retrying",
                extra={"route": delivery.route, "delivery": delivery.id, "attempt": attempt,
                       "error": str(exc), "model": plan.model_id},
            )  # fmt: skip

        result = run_with_retries(
            lambda: _send(d.senders[kind], delivery), d.policy, d.sleep, d.rand, on_retry,
            d.should_stop,
        )  # fmt: skip
        if result.outcome == "interrupted":
            raise Interrupted(f"stopping during delivery {delivery.id}; it stays pending")
        if result.outcome == "delivered":
            self._delivered(plan, delivery)
            return
        error = result.error or RuntimeError("unknown failure")
        reason = type(error)(
            f"{delivery.route}: gave up on delivery {delivery.id} of event {plan.event_id} "
            f"after {result.attempts} attempt(s): {error}"
        )
        d.dead_letter(delivery.model_dump_json().encode(), reason, plan.model_id)
        d.store.record(plan.model_id, plan.event_id, delivery.id, "dead_lettered")
        d.metrics.deliveries.labels(kind, "dead_lettered").inc()
        d.metrics.dead_letters.labels(kind).inc()


def _send(sender: Sender, delivery: Delivery) -> None:
    """Call a sender; anything it did not classify is a rejection (dead-letter, never crash)."""
    try:
        sender(delivery)
    except (RetryableDeliveryError, RejectedDeliveryError):
        raise
    except Exception as exc:  # a bad route config must not crash the service
        raise RejectedDeliveryError(
            f"{delivery.route}: unexpected {type(exc).__name__}: {exc}"
        ) from exc
