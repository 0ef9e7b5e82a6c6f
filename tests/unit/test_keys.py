"""modelmon.keys: the exact key strings (stored data depends on them: a change needs a migration,
docs/decisions/0006-redis-cluster-keys.md) and their Redis Cluster hash slots."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from redis.crc import key_slot

from modelmon.keys import Keys, WindowRef, hash_slot_tag


def test_registry_and_detector_keys() -> None:
    keys, window = Keys("p"), WindowRef("m", 60_000, 120_000)
    assert keys.models() == "p:{registry}:models"
    assert keys.model_config("m") == "p:{registry}:model:m:config"
    assert keys.partition_state("t", 3) == "p:agg:{t:3}:state"
    assert keys.partial("t", 3, window) == "p:agg:{t:3}:partial:m:60000:120000"
    assert keys.done(window) == "p:done:{m}:60000:120000"
    assert keys.results("m") == "p:results:{m}"


def test_alerting_keys_are_in_the_models_slot() -> None:
    keys = Keys("modelmon")
    assert keys.alert_states("credit-risk") == "modelmon:alerting:state:{credit-risk}"
    plan = keys.alert_plan("credit-risk", "credit-risk/w0")
    assert plan == "modelmon:alerting:plan:{credit-risk}:credit-risk/w0"
    assert Keys().alert_plan("m", "e") == Keys("modelmon").alert_plan("m", "e")


def test_a_prefix_with_braces_is_refused() -> None:
    with pytest.raises(ValueError, match="may not contain"):
        Keys("a{b}")


def test_hash_slot_tag_follows_redis_rules() -> None:
    assert hash_slot_tag("a:{b}:c") == "b"
    assert hash_slot_tag("a:{}:{b}") == "a:{}:{b}"  # an empty tag hashes the whole key
    assert hash_slot_tag("plain") == "plain"


names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,30}", fullmatch=True)
prefixes = st.from_regex(r"[a-z][a-z0-9:_-]{0,15}", fullmatch=True)
windows = st.builds(WindowRef, names, st.integers(1, 10**8), st.integers(-(10**12), 10**13))


def _slot(key: str) -> int:
    slot = key_slot(key.encode())
    assert slot == key_slot(hash_slot_tag(key).encode())  # hash_slot_tag agrees with redis-py
    return slot


@given(prefixes, names, st.integers(0, 10_000), st.lists(windows, max_size=5))
def test_one_aggregator_flush_touches_one_slot(
    prefix: str, topic: str, partition: int, refs: list[WindowRef]
) -> None:
    """The fenced flush script's keys (state, index, late, every model's partials) and the
    partition's reads and clear hash to one slot, whichever models the partition holds."""
    k = Keys(prefix)
    flush = [
        k.partition_state(topic, partition),
        k.partition_windows(topic, partition),
        k.partition_late(topic, partition),
        *(k.partial(topic, partition, r) for r in refs),
    ]
    assert len({_slot(key) for key in flush}) == 1


@given(prefixes, st.integers(0, 10_000), st.lists(st.tuples(names, st.integers()), max_size=5))
def test_one_label_join_flush_touches_one_slot(
    prefix: str, partition: int, windows: list[tuple[str, int]]
) -> None:
    k = Keys(prefix)
    flush = [
        k.labeljoin_state(partition),
        k.labeljoin_pending(partition),
        k.labeljoin_joined(partition),
        k.labeljoin_deadlines(partition),
    ]
    for model, start in windows:
        flush += [
            k.quality_partial(model, start, partition),
            k.labeljoin_window(model, start, partition),
            k.bias_partial(model, start, partition),
        ]
        # the script builds the counters' key of an expired entry from the prefix
        built = f"{k.labeljoin_window_prefix(partition)}{model}:{start}:{partition}"
        assert built == k.labeljoin_window(model, start, partition)
    assert len({_slot(key) for key in flush}) == 1


@given(prefixes, names, st.lists(names, max_size=3))
def test_registry_transactions_touch_one_slot(prefix: str, model: str, others: list[str]) -> None:
    k = Keys(prefix)
    keys = [k.models(), k.registry_version(), k.generation()]
    for m in [model, *others]:
        keys += [k.model_config(m), k.baseline(m)]
    assert len({_slot(key) for key in keys}) == 1


@given(prefixes, windows, names, st.text(min_size=1, max_size=20))
def test_detector_and_alerting_keys_live_in_their_models_slot(
    prefix: str, ref: WindowRef, feature: str, event_id: str
) -> None:
    """done + failed (one transaction), the result series and features (one transaction), an
    alert plan and the model's alert states (WATCH/MULTI): one slot per model."""
    k, m = Keys(prefix), ref.model_id
    keys = [
        k.claim(ref), k.done(ref), k.failed(ref), k.merged(ref), k.results(m),
        k.rolling_results(m), k.feature_series(m, feature), k.alert_states(m),
        k.alert_plan(m, event_id), k.bias_results(m), k.quality_results(m),
        k.quality_rolling_results(m),
    ]  # fmt: skip
    assert {_slot(key) for key in keys} == {key_slot(m.encode())}


def test_models_spread_over_the_slots() -> None:
    """100 models' detector keys land on many slots (and so on every master)."""
    k = Keys("modelmon")
    slots = {_slot(k.results(f"model-{i}")) for i in range(100)}
    assert len(slots) > 90
    assert {s * 3 // 16384 for s in slots} == {0, 1, 2}  # three masters' even slot ranges


def _old_names(p: str, topic: str, part: int, ref: WindowRef, feature: str) -> dict[str, str]:
    """The names modelmon wrote before hash tags (issue 16), by the formulas of that version,
    beside the builder of each one's new name."""
    m, size, start = ref.model_id, ref.size_ms, ref.start_ms
    k = Keys(p)
    w = f"{m}:{size}:{start}"
    return {
        f"{p}:models": k.models(),
        f"{p}:registry:version": k.registry_version(),
        f"{p}:generation": k.generation(),
        f"{p}:model:{m}:config": k.model_config(m),
        f"{p}:model:{m}:baseline": k.baseline(m),
        f"{p}:agg:{topic}:{part}:state": k.partition_state(topic, part),
        f"{p}:agg:{topic}:{part}:windows": k.partition_windows(topic, part),
        f"{p}:agg:{topic}:{part}:late": k.partition_late(topic, part),
        f"{p}:partial:{w}:{topic}:{part}": k.partial(topic, part, ref),
        f"{p}:claim:{w}": k.claim(ref),
        f"{p}:done:{w}": k.done(ref),
        f"{p}:failed:{w}": k.failed(ref),
        f"{p}:merged:{w}": k.merged(ref),
        f"{p}:results:{m}": k.results(m),
        f"{p}:results:{m}:rolling": k.rolling_results(m),
        f"{p}:results:{m}:bias": k.bias_results(m),
        f"{p}:results:{m}:quality": k.quality_results(m),
        f"{p}:results:{m}:quality:rolling": k.quality_rolling_results(m),
        f"{p}:series:{m}:{feature}": k.feature_series(m, feature),
        f"{p}:alerting:state:{m}": k.alert_states(m),
        f"{p}:lj:{part}:state": k.labeljoin_state(part),
        f"{p}:lj:{part}:pending": k.labeljoin_pending(part),
        f"{p}:lj:{part}:joined": k.labeljoin_joined(part),
        f"{p}:lj:{part}:deadlines": k.labeljoin_deadlines(part),
        f"{p}:lj:win:{m}:{start}:{part}": k.labeljoin_window(m, start, part),
        f"{p}:lj:q:{m}:{start}:{part}": k.quality_partial(m, start, part),
        f"{p}:lj:b:{m}:{start}:{part}": k.bias_partial(m, start, part),
    }


features = st.from_regex(r"[a-z][a-z0-9_:]{0,20}", fullmatch=True)


@given(prefixes, names, st.integers(0, 10_000), windows, features)
def test_every_untagged_name_maps_to_its_tagged_name(
    prefix: str, topic: str, part: int, ref: WindowRef, feature: str
) -> None:
    keys = Keys(prefix)
    for old, new in _old_names(prefix, topic, part, ref, feature).items():
        assert keys.from_legacy(old) == new, old
        assert keys.from_legacy(new) is None  # a tagged name is left alone
    event = f"{ref.model_id}/w0"
    assert keys.legacy_alert_plan_id(f"{prefix}:alerting:plan:{event}") == event


def test_keys_that_are_not_modelmons_are_left_alone() -> None:
    keys = Keys("p")
    for other in ("q:models", "p:done:m:notanumber:1", "p:whatever", "p:agg:t:x:state", "p:"):
        assert keys.from_legacy(other) is None
