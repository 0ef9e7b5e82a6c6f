"""The exactly-once tests again, on a real three-master Redis Cluster (issue 16).

The aggregator's fenced flush, the detector's claims and transactions and the registry's
transactions must each stay within one slot (``modelmon.keys``); a cross-slot script or
transaction fails here (CROSSSLOT), where one Redis server would accept it. The services run
with ``MODELMON_REDIS__URL=redis+cluster://...`` (``cluster_settings``), and the tests read
through a cluster client: the same test bodies as on one server, collected here with this
module's ``redis_client``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from modelmon.keys import Keys, WindowRef
from modelmon.registry import Registry
from modelmon.settings import Settings
from modelmon.streaming.results import ResultStore

from .redis_cluster import cluster_client, cluster_settings, redis_cluster
from .test_aggregator_support import register
from .test_detector import test_only_drifted_features_flag_and_each_window_is_evaluated_once
from .test_exactly_once import (
    test_a_zombie_or_replayed_flush_is_refused_and_writes_nothing,
    test_counts_are_exact_after_repeated_sigkills,
)

__all__ = [
    "cluster_client", "cluster_settings", "redis_cluster",
    "test_a_zombie_or_replayed_flush_is_refused_and_writes_nothing",
    "test_counts_are_exact_after_repeated_sigkills",
    "test_only_drifted_features_flag_and_each_window_is_evaluated_once",
]  # fmt: skip


@pytest.fixture
def redis_client(cluster_client: Any) -> Iterator[Any]:
    """This module's tests (and ``redis_prefix``) read and write through the cluster."""
    yield cluster_client


def test_the_cluster_really_spreads_slots(redis_cluster: Any, cluster_client: Any) -> None:
    """Three masters, each owning a third of the slots: the keys below land on all three."""
    nodes = cluster_client.get_primaries()
    assert len(nodes) == 3
    keys = Keys("spread")
    owners = {cluster_client.get_node_from_key(keys.results(f"m{i}")).name for i in range(30)}
    assert len(owners) == 3


def test_registry_and_claims_work_on_the_cluster(
    cluster_client: Any, redis_prefix: str, cluster_settings: Settings
) -> None:
    registry = Registry(cluster_client, Keys(redis_prefix))
    for i in range(5):
        register(cluster_client, redis_prefix, f"model-{i}", size_seconds=10)
    assert registry.model_ids() == [f"model-{i}" for i in range(5)]
    assert registry.version() == 5
    store = ResultStore(cluster_client, Keys(redis_prefix), "me")
    refs = [WindowRef(f"model-{i}", 10_000, 0) for i in range(5)]
    assert all(store.claim(r, 60) for r in refs)
    assert not store.claim(refs[0], 60)
    for r in refs[:3]:
        store.finish(r, 1, 60)
    assert store.done(refs) == set(refs[:3])
    assert store.failures(refs) == {}
    assert store.merged_profiles(refs) == []  # GETs across the models' slots, no MGET


def test_a_cross_slot_script_is_refused_by_the_cluster(
    cluster_client: Any, redis_prefix: str
) -> None:
    """The guard the tests above rely on: the cluster refuses what one server would accept."""
    script = cluster_client.register_script("return redis.call('GET', KEYS[2])")
    keys = Keys(redis_prefix)
    with pytest.raises(Exception, match=r"(?i)cross|same.*slot"):
        script(keys=[keys.results("a"), keys.results("b")])


def test_alerting_plan_and_state_are_one_watched_transaction(
    cluster_client: Any, redis_prefix: str, cluster_settings: Settings
) -> None:
    """WATCH plan + state, MULTI, EXEC: one slot per model ({<model>}), so it runs on a cluster;
    a replayed event finds its stored plan and decides nothing again."""
    from datetime import UTC, datetime

    from modelmon.alerting.plan import Delivery, Plan
    from modelmon.alerting.state import KeyState
    from modelmon.alerting.store import AlertingStore

    store = AlertingStore(cluster_client, redis_prefix)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    alarm = KeyState(state="ALARM", window_end=now, since=now)
    plan = Plan(event_id="e1", model_id="churn",
                deliveries=[Delivery(id="sns|e1", kind="sns", route="sns:t")])  # fmt: skip
    calls: list[int] = []

    def decide(current: dict[str, KeyState]) -> tuple[Plan, dict[str, KeyState]]:
        calls.append(len(current))
        return plan, {"k": alarm}

    assert store.prepare("e1", "churn", ["k"], decide) == plan
    assert store.prepare("e1", "churn", ["k"], decide) == plan  # replay: the stored plan
    assert calls == [0] and store.states("churn") == {"k": alarm}
    store.record("churn", "e1", "sns|e1", "delivered")
    assert store.outcomes("churn", "e1") == {"sns|e1": "delivered"}
    store.finish("churn", "e1")
    assert store.outcomes("churn", "e1") == {}
