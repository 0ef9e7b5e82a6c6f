"""deploy/grafana/modelmon-dashboard.json queries only metrics the code defines, as it exposes them.

The definitions are read from the source (every prometheus_client ``Counter``/``Gauge``/
``Histogram``/``Summary`` and metric family constructed in services/ and shared/), so a renamed
metric fails here rather than leaving an empty panel; a counter must be queried with ``_total``,
a histogram with ``_bucket``/``_sum``/``_count``.
"""

from __future__ import annotations

import ast
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, ProcessCollector

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "modelmon-dashboard.json"
KINDS = {
    "Counter": "counter", "CounterMetricFamily": "counter", "Gauge": "gauge",
    "GaugeMetricFamily": "gauge", "Histogram": "histogram", "Summary": "summary",
}  # fmt: skip
SUFFIXES = {
    "counter": ("_total",),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count"),
    "summary": ("_sum", "_count", ""),
}
# What the dashboard must show (the list), each by a metric it queries.
MUST_SHOW = {
    "throughput": "modelmon_aggregator_events_total",
    "lag": "modelmon_consumer_lag",
    "flush latency": "modelmon_aggregator_flush_seconds_bucket",
    "windows evaluated": "modelmon_detector_windows_evaluated_total",
    "evaluation delay": "modelmon_detector_evaluation_delay_seconds",
    "late events": "modelmon_aggregator_late_events_total",
    "dead letters": "modelmon_dead_letters_total",
    "alert deliveries": "modelmon_alerting_deliveries_total",
    "per-feature drift distance": "modelmon_detector_feature_drift",
}


def _module_strings(tree: ast.Module) -> dict[str, str]:
    """Module-level ``NAME = "..."`` constants (a metric named by a constant)."""
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if isinstance(target, ast.Name) and isinstance(node.value.value, str):
                    out[target.id] = node.value.value
    return out


@cache
def defined() -> dict[str, str]:
    """Metric name -> kind, for every metric constructed in services/ and shared/."""
    found: dict[str, str] = {}
    for path in [*ROOT.joinpath("services").rglob("*.py"), *ROOT.joinpath("shared").rglob("*.py")]:
        tree = ast.parse(path.read_text())
        constants = _module_strings(tree)
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and node.args):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name not in KINDS:
                continue
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                found[first.value] = KINDS[name]
            elif isinstance(first, ast.Name) and first.id in constants:
                found[constants[first.id]] = KINDS[name]
    return found


def exposed() -> set[str]:
    """Every series name Prometheus can see from modelmon's code and the process collector."""
    names = {m + s for m, kind in defined().items() for s in SUFFIXES[kind]}
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    names |= {s.name for family in registry.collect() for s in family.samples}
    return names


def dashboard() -> dict[str, Any]:
    loaded = json.loads(DASHBOARD.read_text())
    assert isinstance(loaded, dict)
    return loaded


def queried(board: dict[str, Any]) -> set[str]:
    exprs = [t["expr"] for p in board["panels"] for t in p["targets"]]
    exprs += [v["query"]["query"] for v in board["templating"]["list"] if v["type"] == "query"]
    words = {w for e in exprs for w in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", e)}
    return {w for w in words if w.startswith(("modelmon_", "process_"))}


def test_the_scan_finds_the_metrics_the_services_define() -> None:
    found = defined()
    assert found["modelmon_aggregator_events"] == "counter"
    assert found["modelmon_aggregator_flush_seconds"] == "histogram"
    assert found["modelmon_consumer_lag"] == "gauge"  # named by a module constant
    assert found["modelmon_dead_letters"] == "counter"  # shared/modelmon/service.py
    assert len(found) > 40


def test_every_metric_the_dashboard_queries_is_exposed() -> None:
    names = queried(dashboard())
    assert names
    assert sorted(names - exposed()) == []


def test_the_check_catches_a_misnamed_metric() -> None:
    board = dashboard()
    board["panels"][0]["targets"][0]["expr"] = "rate(modelmon_aggregator_events[5m])"
    assert queried(board) - exposed() == {"modelmon_aggregator_events"}, "counter without _total"


def test_the_dashboard_shows_what_operators_need() -> None:
    names = queried(dashboard())
    assert {what: m for what, m in MUST_SHOW.items() if m not in names} == {}


def test_the_dashboard_is_importable() -> None:
    board = dashboard()
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    assert board["uid"] and board["title"]
    variables = {v["name"] for v in board["templating"]["list"]}
    assert "datasource" in variables
    for panel in board["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        used = set(re.findall(r"\$(\w+)", json.dumps(panel["targets"])))
        assert used - {"__rate_interval"} <= variables, panel["title"]
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24
