"""Alerting's Redis state: alert state per key, a plan per event, an outcome per delivery.

Keys (built by ``modelmon.keys.Keys``, under the configured prefix):

- ``Keys.alert_states``, ``<prefix>:alerting:state:<model_id>``: hash, alert key -> ``KeyState``
  JSON.
- ``Keys.alert_plan``, ``<prefix>:alerting:plan:<event_id>``: hash, ``plan`` -> ``Plan`` JSON and
  ``d:<delivery id>`` -> ``delivered`` | ``dead_lettered`` while the event is being delivered
  (kept at least ``PENDING_PLAN_TTL``: a crash and an outage longer than ``plan_ttl`` must not
  lose the notifications the stored state change owes); then only ``done`` -> ``1``, the
  de-duplication marker, which expires after ``plan_ttl``.

The plan and the state change it came from are written in one MULTI/EXEC guarded by WATCH, so
two processes (a zombie after a rebalance) cannot both decide the same event, and a replay of
an event reuses its stored plan instead of deciding again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Literal

import redis

from modelmon.alerting.plan import Plan
from modelmon.alerting.state import KeyState
from modelmon.errors import DependencyUnavailableError
from modelmon.keys import Keys

Outcome = Literal["delivered", "dead_lettered"]
Decide = Callable[[dict[str, KeyState]], tuple[Plan, dict[str, KeyState]]]

#: How long an event id is remembered (a replay older than this is still de-duplicated by the
#: alert state, but would publish its CloudWatch datapoints again).
DEFAULT_PLAN_TTL = 2 * 86400

#: How long a plan whose deliveries are not all done outlives its event: at least this (and
#: the de-duplication window). Its state change is already stored, so a replay after the plan
#: expired would decide nothing and the pending notifications would be lost: the plan must
#: outlast any outage the alerts topic's retention still covers.
PENDING_PLAN_TTL = 30 * 86400


@contextmanager
def _redis_errors() -> Iterator[None]:
    try:
        yield
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        raise DependencyUnavailableError(f"Redis did not answer: {exc}") from exc


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class AlertingStore:
    """Alert state, plans and delivery records in Redis."""

    def __init__(self, client: redis.Redis, prefix: str, plan_ttl: int = DEFAULT_PLAN_TTL):
        self._redis = client
        self._keys = Keys(prefix)
        self._ttl = plan_ttl

    def ping(self) -> bool:
        try:
            return bool(self._redis.ping())
        except redis.RedisError:
            return False

    def states(self, model_id: str) -> dict[str, KeyState]:
        """Every alert key's state of one model."""
        with _redis_errors():
            raw = self._redis.hgetall(self._keys.alert_states(model_id))
        return {_text(k): KeyState.model_validate_json(v) for k, v in raw.items()}

    def prepare(self, event_id: str, model_id: str, keys: list[str], decide: Decide) -> Plan:
        """The event's stored plan, or a new one decided and stored atomically with its state."""
        plan_key = self._keys.alert_plan(model_id, event_id)
        state_key = self._keys.alert_states(model_id)
        with _redis_errors(), self._redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    pipe.watch(plan_key, state_key)  # type: ignore[no-untyped-call]
                    stored, done = pipe.hmget(plan_key, ["plan", "done"])
                    if stored is not None or done is not None:
                        pipe.unwatch()
                        if stored is None:  # handled completely before: nothing left to do
                            return Plan(event_id=event_id, model_id=model_id)
                        return Plan.model_validate_json(stored)
                    raw = pipe.hmget(state_key, keys) if keys else []
                    current = {
                        k: KeyState.model_validate_json(v)
                        for k, v in zip(keys, raw, strict=True)
                        if v is not None
                    }
                    plan, changed = decide(current)
                    pipe.multi()
                    if changed:
                        pipe.hset(
                            state_key, mapping={k: s.model_dump_json() for k, s in changed.items()}
                        )
                    if plan.deliveries:  # pending until ``finish``: kept past any outage
                        pipe.hset(plan_key, "plan", plan.model_dump_json())
                        pipe.expire(plan_key, max(self._ttl, PENDING_PLAN_TTL))
                    else:
                        pipe.hset(plan_key, "done", "1")
                        pipe.expire(plan_key, self._ttl)
                    pipe.execute()
                    return plan
                except redis.WatchError:
                    continue

    def outcomes(self, model_id: str, event_id: str) -> dict[str, str]:
        """Delivery id -> recorded outcome, for the deliveries of one plan done so far."""
        with _redis_errors():
            raw = self._redis.hgetall(self._keys.alert_plan(model_id, event_id))
        fields = {_text(k): _text(v) for k, v in raw.items()}
        return {k[2:]: v for k, v in fields.items() if k.startswith("d:")}

    def record(self, model_id: str, event_id: str, delivery_id: str, outcome: Outcome) -> None:
        with _redis_errors():
            key = self._keys.alert_plan(model_id, event_id)
            self._redis.hset(key, f"d:{delivery_id}", outcome)

    def finish(self, model_id: str, event_id: str) -> None:
        """Every delivery has an outcome: keep only a small ``done`` marker (de-duplication)."""
        key = self._keys.alert_plan(model_id, event_id)
        with _redis_errors(), self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            pipe.hset(key, "done", "1")
            pipe.expire(key, self._ttl)
            pipe.execute()
