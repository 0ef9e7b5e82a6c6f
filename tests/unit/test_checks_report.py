"""report.html: self-contained, one section per feature, names escaped, verdicts shown."""

from __future__ import annotations

import html
import json
import re

import numpy as np

from modelmon.checks import Baseline, evaluate
from modelmon.profile import ProfileTracker
from modelmon.readers import ReadStats
from modelmon.report import render_report
from modelmon.sagemaker.build import build_statistics, suggest_constraints


def _baseline() -> Baseline:
    rng = np.random.default_rng(1)
    tracker = ProfileTracker()
    tracker.update({
        "amount": rng.normal(100, 10, 2000),
        "<script>alert(1)</script>": rng.choice(np.array(["a", "b"], dtype=object), 2000),
        "gone": rng.integers(0, 5, 2000),
    })  # fmt: skip
    profile = tracker.snapshot()
    stats = build_statistics(profile, ["amount", "<script>alert(1)</script>", "gone"])
    return Baseline(stats, suggest_constraints(stats), profile)


def test_report_page() -> None:
    base = _baseline()
    rng = np.random.default_rng(2)
    tracker = ProfileTracker(base.kinds())
    tracker.update({
        "amount": rng.normal(130, 10, 500),
        "<script>alert(1)</script>": rng.choice(np.array(["a", "b", "c"], dtype=object), 500),
        "new": np.ones(500),
    })  # fmt: skip
    current = tracker.snapshot()
    evaluation = evaluate(base, current)
    stats = ReadStats(files=1, rows=500, bad_rows=2)
    stats.note("line is not valid JSON", "today.jsonl:7", 2)
    page = render_report(base, current, evaluation, title="nightly <check>", read_stats=stats)

    assert "<script>alert(1)" not in page  # every name is escaped
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<title>nightly &lt;check&gt;</title>" in page
    assert re.findall(r"<h3 id='f-([^']*)'>", page) == [
        "amount", "&lt;script&gt;alert(1)&lt;/script&gt;", "gone", "new",
    ]  # fmt: skip
    assert page.count("<div class=plot ") == 2  # amount and the categorical; none for gone / new
    figures = [json.loads(html.unescape(f)) for f in re.findall(r"data-figure='([^']*)'", page)]
    assert [[t["name"] for t in f["data"]] for f in figures] == [["baseline", "current"]] * 2
    for figure in figures:  # each side's shares form a distribution
        assert all(abs(sum(t["y"]) - 1) < 1e-9 for t in figure["data"])
    assert "missing from the current data" in page
    assert "2 x line is not valid JSON (first at today.jsonl:7)" in page
    n_bad = len(evaluation.violations)
    assert {(v.check_type, v.feature) for v in evaluation.violations} == {
        ("baseline_drift_check", "amount"),
        ("categorical_values_check", "<script>alert(1)</script>"),
        ("baseline_drift_check", "<script>alert(1)</script>"),
        ("missing_column_check", "gone"),
        ("extra_column_check", "new"),
    }
    assert f"<span class='verdict bad'>{n_bad} violation(s)</span>" in page
    assert page.count("<tr class=violated>") == 4  # one summary row per feature in violation
    markup = re.sub(r"<script>.*?</script>", "", page, flags=re.S)  # plotly.js is inlined
    assert not re.search(r"(src|href)=['\"]?https?:", markup)  # no external assets
