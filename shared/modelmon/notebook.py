"""The notebook API: profile, baseline and compare DataFrames in Python.

``import modelmon as mm`` then ``mm.profile(df)``, ``mm.baseline(df, label=...)`` and
``mm.compare(baseline_or_df, df)``. The checks and distances are the ones ``modelmon
monitor`` runs (the same :func:`modelmon.checks.evaluate`); results display themselves in
Jupyter and save as report.html, JSON or SageMaker's files. docs/python.md walks through it.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from modelmon.checks import Baseline, Evaluation, evaluate, validate
from modelmon.config import ModelConfig
from modelmon.frames import column_names, frame_batches
from modelmon.profile import DatasetProfile, FeatureKind, ProfileTracker
from modelmon.required_columns import require_columns
from modelmon.sagemaker import (
    STATISTICS_FILE,
    VIOLATIONS_FILE,
    Constraints,
    Statistics,
    dumps,
    write,
)
from modelmon.sagemaker.build import build_statistics, suggest_constraints

REPORT_FILE = "report.html"
#: Height of the inline report in a notebook (it scrolls inside its frame).
INLINE_HEIGHT_PX = 640


@dataclass(frozen=True, eq=False)
class Profile:
    """The profile of one DataFrame: per-feature sketches and SageMaker's statistics."""

    profile: DatasetProfile
    columns: tuple[str, ...]

    @property
    def row_count(self) -> int:
        return self.profile.row_count

    @property
    def statistics(self) -> Statistics:
        return build_statistics(self.profile, self.columns)

    def to_json(self) -> str:
        """statistics.json's text."""
        return dumps(self.statistics.to_dict())

    def to_sagemaker(self, directory: str | Path) -> Path:
        """Write statistics.json into ``directory`` (created); returns its path."""
        target = Path(directory)
        target.mkdir(parents=True, exist_ok=True)
        return write(self.statistics, target / STATISTICS_FILE)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{html.escape(f.name)}</td><td>{html.escape(f.inferred_type)}</td>"
            f"<td>{f.common.num_present}</td><td>{f.common.num_missing}</td></tr>"
            for f in self.statistics.features
        )
        return (
            f"<p>modelmon profile: {self.row_count} rows, {len(self.profile.features)} "
            "features</p><table><tr><th>feature</th><th>type</th><th>present</th>"
            f"<th>missing</th></tr>{rows}</table>"
        )


@dataclass(frozen=True, eq=False)
class Comparison:
    """Current data checked against a baseline: what ``modelmon monitor`` finds."""

    baseline: Baseline
    current: Profile
    evaluation: Evaluation

    @property
    def violations(self) -> Any:
        """The violations as a pandas DataFrame (constraint_violations.json's columns)."""
        return _frame(
            [v.model_dump() for v in self.evaluation.constraint_violations().violations],
            ["feature_name", "constraint_check_type", "description"],
        )

    @property
    def checks(self) -> Any:
        """Every check outcome, passed and violated, as a pandas DataFrame."""
        rows = [c.model_dump(exclude={"schema_version"}) for c in self.evaluation.checks]
        columns = ["feature", "check_type", "violated", "value", "threshold", "method"]
        return _frame(rows, [*columns, "description"])

    @property
    def distances(self) -> dict[str, dict[str, float]]:
        """Per feature, every distance computed (registry name -> value)."""
        return {n: dict(m.distances) for n, m in self.evaluation.features.items() if m.distances}

    @property
    def statistics(self) -> Statistics:
        """statistics.json of the current data, baseline features first (as monitor writes)."""
        return build_statistics(self.current.profile, [*self.baseline.feature_names,
                                                       *self.current.columns])  # fmt: skip

    def to_html(self, title: str = "modelmon data-quality report") -> str:
        from modelmon.report import render_report

        meta = f"{self.evaluation.row_count} rows checked (notebook)"
        return render_report(
            self.baseline, self.current.profile, self.evaluation, title=title, meta=meta
        )

    def save_html(self, path: str | Path) -> Path:
        target = Path(path)
        target.write_text(self.to_html(), encoding="utf-8")
        return target

    def to_json(self) -> str:
        """Violations, per-feature figures and every check, as one JSON document."""
        doc = {
            "row_count": self.evaluation.row_count,
            "violations": self.evaluation.constraint_violations().to_dict(),
            "features": {n: m.model_dump() for n, m in self.evaluation.features.items()},
            "checks": [c.model_dump(exclude={"schema_version"}) for c in self.evaluation.checks],
            "notes": list(self.evaluation.notes),
        }
        return orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY).decode()

    def to_sagemaker(self, directory: str | Path) -> Path:
        """Write what ``modelmon monitor --out`` writes: statistics.json,
        constraint_violations.json and report.html. Returns the directory."""
        target = Path(directory)
        target.mkdir(parents=True, exist_ok=True)
        write(self.statistics, target / STATISTICS_FILE)
        write(self.evaluation.constraint_violations(), target / VIOLATIONS_FILE)
        self.save_html(target / REPORT_FILE)
        return target

    def _repr_html_(self) -> str:
        page = html.escape(self.to_html(), quote=True)
        return (
            f'<iframe srcdoc="{page}" style="width:100%;height:{INLINE_HEIGHT_PX}px;'
            'border:1px solid #d0d7de" sandbox="allow-scripts"></iframe>'
        )

    def __repr__(self) -> str:
        n = len(self.evaluation.violations)
        return f"<Comparison: {self.evaluation.row_count} rows, {n} violation(s)>"


def _frame(rows: list[dict[str, Any]], columns: list[str]) -> Any:
    try:
        import pandas as pd
    except ImportError as exc:  # pragma: no cover - pandas is in every notebook
        raise ImportError("a DataFrame of results needs pandas: pip install pandas") from exc
    return pd.DataFrame(rows, columns=columns)


def _profile(frame: Any, kinds: dict[str, FeatureKind] | None, exclude: Sequence[str]) -> Profile:
    tracker = ProfileTracker(kinds)
    skip = set(exclude)
    for batch in frame_batches(frame):
        columns = {k: v for k, v in batch.items() if k not in skip}
        if columns:
            tracker.update(columns)
    return Profile(tracker.snapshot(), tuple(column_names(frame)))


def _require(names: Sequence[str], label: str | None, exclude: Sequence[str]) -> None:
    require_columns(names, {"label": label})
    for name in exclude:
        require_columns(names, {"exclude": name})


def profile(frame: Any, *, exclude: Sequence[str] = ()) -> Profile:
    """Profile a pandas or polars DataFrame or a pyarrow Table (``exclude``: columns left out)."""
    _require(column_names(frame), None, exclude)
    return _profile(frame, None, exclude)


def baseline(frame: Any, *, label: str | None = None, exclude: Sequence[str] = ()) -> Baseline:
    """A baseline as ``modelmon baseline create`` makes it: statistics, suggested constraints,
    the mergeable profile; ``label`` (and ``exclude``) are not features."""
    names = column_names(frame)
    _require(names, label, exclude)
    skip = [*exclude, *([label] if label else [])]
    found = _profile(frame, None, skip)
    statistics = build_statistics(found.profile, names)
    constraints: Constraints = suggest_constraints(statistics)
    return Baseline(statistics, constraints, found.profile, tuple(n for n in skip if n in names))


def load_baseline(location: str | Path) -> Baseline:
    """A baseline directory (statistics.json + constraints.json [+ profile.bin])."""
    return Baseline.load(location)


def compare(
    reference: Baseline | str | Path | Any,
    current: Any,
    *,
    config: ModelConfig | None = None,
    exclude: Sequence[str] = (),
) -> Comparison:
    """Check ``current`` (a DataFrame) against ``reference``: a Baseline, a baseline directory,
    or a DataFrame (baselined first, as :func:`baseline` does)."""
    if isinstance(reference, Baseline):
        base = reference
    elif isinstance(reference, str | Path):
        base = load_baseline(reference)
    else:
        base = baseline(reference)
    validate(base, config)
    found = _profile(current, base.kinds(), [*base.excluded, *exclude])
    return Comparison(base, found, evaluate(base, found.profile, config))
