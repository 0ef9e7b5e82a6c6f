"""Clarify's bias ``analysis.json``: written from a state, read from any Clarify-made file.

The shape (key for key, as a Clarify processing job writes it; SageMaker's reference
``model_bias_baseline_analysis.json``)::

    {"version": "1.0",
     "post_training_bias_metrics": {"label": "Target", "facets": {"Sex": [
         {"value_or_threshold": "0", "metrics": [
             {"name": "AD", "description": "Accuracy Difference (AD)", "value": -0.15}, ...]}]},
       "label_value_or_threshold": "1"},
     "pre_training_bias_metrics": {...}}

±∞ is written as the strings "Infinity"/"-Infinity" (smclarify ``report.inf_as_str``); a metric
Clarify cannot compute has ``"value": null`` and an ``"error"`` text (``report.MetricError``).
The bias baseline *is* this file (SageMaker's ``ClarifyBaseliningJob.suggested_constraints``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from modelmon.bias.config import BiasConfig
from modelmon.bias.report import FacetValueReport, MetricValue, facet_reports
from modelmon.bias.state import BiasState
from modelmon.errors import BaselineError

VERSION: Final = "1.0"
STAGE_KEYS: Final = {
    "pre_training": "pre_training_bias_metrics",
    "post_training": "post_training_bias_metrics",
}
_INTERVAL = re.compile(r"^\(\s*([^,\s]+)\s*,\s*([^\]\s]+)\s*\]$")


def json_value(value: float | None) -> float | str | None:
    """A metric value as Clarify writes it: ±inf as "Infinity"/"-Infinity"."""
    if value is None:
        return None
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def parse_value(raw: Any) -> float | None:
    """A value read from analysis.json: numbers, "Infinity", "-Infinity", "NaN" or null."""
    if raw is None or isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        return float(raw)
    if isinstance(raw, str):
        try:
            number = float(raw)
        except ValueError:
            return None
        return None if math.isnan(number) else number
    return None


def stage_section(
    label: str, label_value: str, reports: Sequence[FacetValueReport]
) -> dict[str, Any]:
    facets: dict[str, list[dict[str, Any]]] = {}
    for report in reports:
        facets.setdefault(report.facet, []).append(
            {
                "value_or_threshold": report.value_or_threshold,
                "metrics": [_metric_json(m) for m in report.metrics],
            }
        )
    return {"label": label, "facets": facets, "label_value_or_threshold": label_value}


def _metric_json(metric: MetricValue) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": metric.name,
        "description": metric.description,
        "value": json_value(metric.value),
    }
    if metric.error is not None:
        body["error"] = metric.error
    return body


def analysis_json(
    config: BiasConfig,
    state: BiasState,
    stages: Sequence[str] | None = None,
    methods: Mapping[str, Sequence[str] | None] | None = None,
    source: str = "joined",
) -> dict[str, Any]:
    """The analysis.json of a state (a baseline, or one window's results).

    ``stages`` and ``methods`` default to what the config's Clarify ``methods`` asks for
    (both stages, every metric, when it has none).
    """
    wanted = config.stage_methods()
    doc: dict[str, Any] = {"version": VERSION}
    for stage in stages if stages is not None else list(wanted):
        chosen = (methods or {}).get(stage, wanted.get(stage))
        reports = facet_reports(config, state, stage, chosen, source)
        doc[STAGE_KEYS[stage]] = stage_section(
            config.label_name, config.label_value_or_threshold(), reports
        )
    return doc


@dataclass(frozen=True)
class BaselineMetric:
    stage: str
    facet: str
    value_or_threshold: str
    name: str
    value: float | None


@dataclass(frozen=True)
class BiasBaseline:
    """A parsed analysis.json: each metric's baseline value per (stage, facet, facet value)."""

    label: str | None
    label_value_or_threshold: str | None
    metrics: tuple[BaselineMetric, ...]

    def lookup(
        self, stage: str, facet: str, value_or_threshold: str, name: str
    ) -> BaselineMetric | None:
        key = facet_value_key(value_or_threshold)
        for m in self.metrics:
            if (m.stage, m.facet, m.name) == (stage, facet, name) and facet_value_key(
                m.value_or_threshold
            ) == key:
                return m
        return None


def facet_value_key(value_or_threshold: str) -> str:
    """Threshold facets match on their lower bound: Clarify's ``(t, max]`` has the data's max."""
    match = _INTERVAL.match(value_or_threshold.strip())
    if match:
        try:
            return f"threshold:{float(match.group(1))!r}"
        except ValueError:
            return value_or_threshold
    return value_or_threshold


def parse_analysis(doc: Any) -> BiasBaseline:
    """Read a Clarify (or modelmon) bias analysis.json; BaselineError when it is not one."""
    if not isinstance(doc, dict) or not any(k in doc for k in STAGE_KEYS.values()):
        raise BaselineError(
            "not a Clarify bias analysis.json: it needs post_training_bias_metrics or "
            "pre_training_bias_metrics"
        )
    metrics: list[BaselineMetric] = []
    label = label_value = None
    for stage, key in STAGE_KEYS.items():
        section = doc.get(key)
        if section is None:
            continue
        if not isinstance(section, dict) or not isinstance(section.get("facets"), dict):
            raise BaselineError(f"{key} must be an object with a 'facets' object")
        label = label or _text(section.get("label"))
        label_value = label_value or _text(section.get("label_value_or_threshold"))
        for facet, entries in section["facets"].items():
            metrics.extend(_facet_metrics(stage, key, str(facet), entries))
    return BiasBaseline(label, label_value, tuple(metrics))


def _facet_metrics(stage: str, key: str, facet: str, entries: Any) -> list[BaselineMetric]:
    if not isinstance(entries, list):
        raise BaselineError(f"{key}.facets.{facet} must be a list")
    out = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("metrics"), list):
            raise BaselineError(f"{key}.facets.{facet}[] needs value_or_threshold and metrics")
        value = str(entry.get("value_or_threshold", ""))
        for metric in entry["metrics"]:
            if not isinstance(metric, dict) or not isinstance(metric.get("name"), str):
                raise BaselineError(f"{key}.facets.{facet}[].metrics[] needs a name")
            out.append(
                BaselineMetric(
                    stage, facet, value, metric["name"], parse_value(metric.get("value"))
                )
            )
    return out


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
