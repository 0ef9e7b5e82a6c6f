"""The files the detector writes for each evaluated window, and reading them back.

Beside SageMaker's ``statistics.json`` and ``constraint_violations.json`` the detector writes
``report.html`` (the page ``modelmon monitor`` writes, unless the model's ``html_report`` is
false) and ``modelmon-window.json``: the window's mergeable profile, so that
``modelmon report`` can render any past window, or merge a range of them, long after Redis
has let the window's partials go. Pure: no I/O here; the detector writes the files.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime

import orjson

from modelmon.checks import Baseline, evaluate
from modelmon.config import ModelConfig
from modelmon.errors import CorruptBlobError
from modelmon.profile import DatasetProfile
from modelmon.streaming.detection import Detection, WindowView, report_files, utc

WINDOW_FILE = "modelmon-window.json"
REPORT_FILE = "report.html"
_VERSION = 1


def window_files(
    view: WindowView,
    found: Detection,
    baseline: Baseline | None,
    config: ModelConfig,
    plotly_src: str | None = None,
) -> dict[str, str]:
    """Every file of one evaluated window (single or rolling view), by name, as text.

    The detector's one call: ``write_reports(uri, window_files(view, found, baseline, config,
    plotly_src))``; ``plotly_src`` is a relative URL of a shared plotly.js (else inlined).
    """
    files = report_files(view, found, baseline)
    files[WINDOW_FILE] = window_document(view)
    if config.html_report and baseline is not None and found.evaluation is not None:
        from modelmon.report import render_report

        title, meta = report_heading(view.model_id, view.start_ms, view.end_ms, view.windows)
        meta += f"; {view.profile.row_count} events, {view.late} late"
        files[REPORT_FILE] = render_report(
            baseline, view.profile, found.evaluation, title=title, meta=meta,
            plotly_src=plotly_src,
        )  # fmt: skip
    return files


def report_heading(model_id: str, start_ms: int, end_ms: int, windows: int) -> tuple[str, str]:
    """The report's title and the first part of its meta line."""
    span = f"{utc(start_ms):%Y-%m-%d %H:%M:%S} – {utc(end_ms):%Y-%m-%d %H:%M:%S} UTC"
    merged = f" ({windows} windows merged)" if windows > 1 else ""
    return f"modelmon: {model_id}, window {span}", f"model {model_id}; {span}{merged}"


def window_document(view: WindowView) -> str:
    doc = {
        "version": _VERSION,
        "model_id": view.model_id,
        "window_start": utc(view.start_ms).isoformat(),
        "window_end": utc(view.end_ms).isoformat(),
        "windows": view.windows,
        "late_events": view.late,
        "profile": base64.b64encode(view.profile.serialize()).decode("ascii"),
    }
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode()


@dataclass(frozen=True)
class StoredWindow:
    """One window read back from its ``modelmon-window.json``."""

    model_id: str
    start: datetime
    end: datetime
    windows: int
    late: int
    profile: DatasetProfile


def parse_window(blob: bytes, where: str) -> StoredWindow:
    """A ``modelmon-window.json``; anything else is a CorruptBlobError naming ``where``."""
    try:
        doc = orjson.loads(blob)
        if doc.get("version") != _VERSION:
            raise CorruptBlobError(f"version {doc.get('version')!r}, this modelmon reads 1")
        profile = DatasetProfile.deserialize(base64.b64decode(doc["profile"], validate=True))
        return StoredWindow(
            str(doc["model_id"]),
            datetime.fromisoformat(doc["window_start"]),
            datetime.fromisoformat(doc["window_end"]),
            int(doc["windows"]),
            int(doc["late_events"]),
            profile,
        )
    except (CorruptBlobError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CorruptBlobError(f"{where}: not a modelmon window file ({exc})") from exc


def render_range(stored: list[StoredWindow], baseline: Baseline, config: ModelConfig | None) -> str:
    """report.html of one stored window, or of several merged into one (in time order)."""
    ordered = sorted(stored, key=lambda w: w.start)
    merged = DatasetProfile.zero()
    for window in ordered:
        merged = merged.merge(window.profile)
    evaluation = evaluate(baseline, merged, config)
    first, last = ordered[0], ordered[-1]
    title, meta = report_heading(
        first.model_id,
        int(first.start.timestamp() * 1000),
        int(last.end.timestamp() * 1000),
        sum(w.windows for w in ordered),
    )
    meta += f"; {merged.row_count} events, {sum(w.late for w in ordered)} late"
    from modelmon.report import render_report

    return render_report(baseline, merged, evaluation, title=title, meta=meta)
