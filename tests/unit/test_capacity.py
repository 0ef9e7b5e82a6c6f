"""The capacity model and ``modelmon capacity`` (issue 23)."""

from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from modelmon.capacity import Costs, Load, aggregator_cpu, estimate, parse_duration
from modelmon.cli.capacity import capacity

loads = st.builds(
    Load,
    events_per_second=st.floats(1, 5e6),
    models=st.integers(1, 5000),
    features=st.integers(1, 200),
    window_seconds=st.sampled_from([10, 60, 300, 3600]),
    retention_seconds=st.sampled_from([86_400, 7 * 86_400, 400 * 86_400]),
    hot_retention_seconds=st.sampled_from([3600, 86_400]),
)


@given(loads, st.floats(1.1, 10))
def test_more_events_never_need_less(load: Load, factor: float) -> None:
    more = Load(**{**load.__dict__, "events_per_second": load.events_per_second * factor})
    a, b = estimate(load), estimate(more)
    assert b.partitions >= a.partitions
    # on the same partitions more events cost more; one partition more spreads the models
    # thinner over the batches (fewer per batch), which can take a little CPU off
    if b.partitions == a.partitions:
        assert b.aggregator_cores >= a.aggregator_cores
    assert (
        b.redis_bytes >= a.redis_bytes
        and b.redis_write_bytes_per_second >= a.redis_write_bytes_per_second
    )


@given(loads)
def test_the_partitions_are_the_fewest_whose_aggregators_keep_up(load: Load) -> None:
    costs = Costs()
    cpu, partitions = aggregator_cpu(load, costs)
    assert math.ceil(cpu / costs.utilisation) <= partitions
    if partitions > 1:
        prev_cpu = cpu_at(load, costs, partitions - 1)
        assert math.ceil(prev_cpu / costs.utilisation) > partitions - 1


def cpu_at(load: Load, costs: Costs, partitions: int) -> float:
    per_event = load.events_per_second * costs.event_cpu_us * load.features / 25 / 1e6
    mixed = min(load.models * load.partitions_per_model / partitions, costs.batch_size)
    batches = load.events_per_second / costs.batch_size
    return per_event + batches * max(1.0, mixed) * costs.model_batch_cpu_ms / 1000


@given(loads)
def test_results_scale_with_the_hot_retention_and_s3_with_the_durable_one(load: Load) -> None:
    est = estimate(load)
    per_window = Costs().result_redis_bytes_per_feature * load.features
    hot_windows = load.hot_retention_seconds / load.window_seconds
    assert est.redis_results_bytes == pytest.approx(load.models * hot_windows * per_window)
    assert est.s3_bytes_retained == pytest.approx(
        est.s3_bytes_per_day * load.retention_seconds / 86_400
    )
    assert est.windows_per_second == pytest.approx(load.models / load.window_seconds)


def test_the_worked_example() -> None:
    """1M events/s, 1,000 models x 25 features, 1-minute windows, 7 days (docs/capacity.md)."""
    est = estimate(Load(1e6, 1000, 25, 60, 7 * 86_400))
    assert est.windows_per_second == pytest.approx(1000 / 60)
    assert est.redis_results_bytes == pytest.approx(1000 * 1440 * 1740 * 25)
    # 60 KB partials (profile format 3, 3-decimal values), 61 alive per model
    assert 3e9 < est.redis_partials_bytes < 4.5e9
    assert est.partitions == 7


@pytest.mark.parametrize(
    ("text", "seconds"), [("60", 60), ("90s", 90), ("1m", 60), ("24h", 86_400), ("7d", 604_800)]
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "abc", "7y", "0s", "-1m"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_the_command_prints_every_figure_and_json() -> None:
    args = ["--events-per-second", "1000000", "--models", "1000", "--features", "25",
            "--window", "1m", "--retention", "7d"]  # fmt: skip
    out = CliRunner().invoke(capacity, args)
    assert out.exit_code == 0, out.output
    assert "capture partitions    7" in out.output and "Redis: total memory" in out.output
    as_json = CliRunner().invoke(capacity, [*args, "--json", "--cost-flush-fraction", "0.1"])
    figures = json.loads(as_json.output)
    full = estimate(Load(1e6, 1000, 25, 60, 7 * 86_400))
    assert figures["redis_write_bytes_per_second"] < full.redis_write_bytes_per_second
    bad = CliRunner().invoke(capacity, [*args[:-1], "7y"])
    assert bad.exit_code == 2 and "not a duration" in bad.output
