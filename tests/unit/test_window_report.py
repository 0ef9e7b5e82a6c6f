"""Each evaluated window's files (report.html, modelmon-window.json) and ``modelmon report``,
which renders any stored window, or a range merged, from them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

import modelmon as mm
from modelmon.checks import Baseline
from modelmon.cli import cli
from modelmon.cli.report import window_start_of
from modelmon.config import ModelConfig
from modelmon.errors import CorruptBlobError
from modelmon.keys import WindowRef
from modelmon.profile import ProfileTracker
from modelmon.streaming import detection
from modelmon.streaming.window_report import REPORT_FILE, WINDOW_FILE, parse_window, window_files

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
SIZE = 10_000


def _baseline() -> Baseline:
    rng = np.random.default_rng(0)
    import pandas as pd

    frame = pd.DataFrame({"x": rng.normal(0, 1, 900), "color": rng.choice(["a", "b"], 900)})
    return mm.baseline(frame)


def _profile(n: int, shift: float, seed: int) -> object:
    rng = np.random.default_rng(seed)
    tracker = ProfileTracker()
    tracker.update({"x": rng.normal(shift, 1, n), "color": rng.choice(["a", "b"], n)})
    return tracker.snapshot()


def _write_windows(root: Path, base: Baseline, config: ModelConfig, shifts: list[float]) -> None:
    """What the detector writes for consecutive windows, through the same functions."""
    now = datetime(2026, 1, 1, 1, tzinfo=UTC)
    for i, shift in enumerate(shifts):
        ref = WindowRef(config.model_id, SIZE, T0 + i * SIZE)
        view = detection.single(ref, _profile(300, shift, i), late=i)  # type: ignore[arg-type]
        found = detection.detect(view, config, base, now, None)
        target = root / detection.report_path(config, view, SIZE)
        target.mkdir(parents=True, exist_ok=True)
        for name, text in window_files(view, found, base, config).items():
            (target / name).write_text(text, encoding="utf-8")


@pytest.fixture
def stored(tmp_path: Path) -> tuple[Path, Path, Path]:
    base, config = _baseline(), ModelConfig(model_id="churn")
    base.save(tmp_path / "baseline")
    (tmp_path / "model.yaml").write_text(yaml.safe_dump(config.model_dump(mode="json")))
    _write_windows(tmp_path / "reports", base, config, [0.0, 3.0, 0.0])
    return tmp_path / "reports", tmp_path / "baseline", tmp_path / "model.yaml"


def test_every_window_gets_a_report_beside_its_json(stored: tuple[Path, Path, Path]) -> None:
    reports, _, _ = stored
    folder = reports / "churn/modelmon/2026/01/01/00/0010"
    assert {p.name for p in folder.iterdir()} == {
        "statistics.json", "constraint_violations.json", REPORT_FILE, WINDOW_FILE,
    }  # fmt: skip
    page = (folder / REPORT_FILE).read_text()
    assert "window 2026-01-01 00:00:10 – 2026-01-01 00:00:20 UTC" in page
    assert "violation(s)" in page and "300 events, 1 late" in page


def test_a_window_report_can_load_a_shared_plotly_instead_of_inlining_it() -> None:
    base = _baseline()
    view = detection.single(WindowRef("m", SIZE, T0), _profile(50, 0, 1), 0)  # type: ignore[arg-type]
    config = ModelConfig(model_id="m")
    found = detection.detect(view, config, base, datetime(2026, 1, 1, tzinfo=UTC), None)
    shared = window_files(view, found, base, config, "../_assets/plotly.min.js")[REPORT_FILE]
    inline = window_files(view, found, base, config)[REPORT_FILE]
    assert '<script src="../_assets/plotly.min.js"></script>' in shared
    assert len(shared) < 1_000_000 < len(inline)  # plotly.js is ~4.8 MB


def test_html_report_can_be_turned_off_and_needs_a_baseline(tmp_path: Path) -> None:
    base = _baseline()
    view = detection.single(WindowRef("m", SIZE, T0), _profile(50, 0, 1), 0)  # type: ignore[arg-type]
    now = datetime(2026, 1, 1, tzinfo=UTC)
    off = ModelConfig(model_id="m", html_report=False)
    assert REPORT_FILE not in window_files(
        view, detection.detect(view, off, base, now, None), base, off
    )
    on = ModelConfig(model_id="m")
    none = window_files(view, detection.detect(view, on, None, now, None), None, on)
    assert REPORT_FILE not in none and WINDOW_FILE in none


@given(n=st.integers(1, 400), late=st.integers(0, 10**6), seed=st.integers(0, 2**16))
def test_window_files_read_back(n: int, late: int, seed: int) -> None:
    profile = _profile(n, 0.0, seed)
    view = detection.single(WindowRef("m", SIZE, T0 + SIZE), profile, late)  # type: ignore[arg-type]
    text = window_files(
        view, detection.detect(view, ModelConfig(model_id="m"), None, datetime.now(UTC), None),
        None, ModelConfig(model_id="m"),
    )[WINDOW_FILE]  # fmt: skip
    back = parse_window(text.encode(), "w")
    assert (back.model_id, back.late, back.windows) == ("m", late, 1)
    assert back.start == datetime(2026, 1, 1, 0, 0, 10, tzinfo=UTC)
    assert back.profile.serialize() == profile.serialize()  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "blob", [b"", b"{}", b'{"version": 2}', b"[1]", b'{"version": 1, "profile": "!!"}']
)
def test_a_bad_window_file_is_named(blob: bytes) -> None:
    with pytest.raises(CorruptBlobError, match=r"x/modelmon-window\.json"):
        parse_window(blob, "x/modelmon-window.json")


def test_paths_give_window_starts() -> None:
    assert window_start_of("r/churn/modelmon/2026/01/01/00/0010/modelmon-window.json") == datetime(
        2026, 1, 1, 0, 0, 10, tzinfo=UTC
    )
    assert window_start_of("r/churn/modelmon/2026/01/01/05/modelmon-window.json") == datetime(
        2026, 1, 1, 5, tzinfo=UTC
    )
    assert window_start_of("r/c/modelmon/2026/01/01/00/0010/rolling-2/modelmon-window.json") is None
    assert window_start_of("r/c/modelmon/2026/01/01/00/0010/statistics.json") is None


def _report(stored: tuple[Path, Path, Path], tmp: Path, *args: str) -> tuple[int, str]:
    reports, base, config = stored
    argv = ["report", "--model", "churn", "--from", str(reports), "--baseline", str(base),
            "--config", str(config), "--out", str(tmp / "out.html"), *args]  # fmt: skip
    result = CliRunner().invoke(cli, argv)
    return result.exit_code, result.output


def test_report_of_one_past_window(stored: tuple[Path, Path, Path], tmp_path: Path) -> None:
    code, output = _report(stored, tmp_path, "--window", "2026-01-01T00:00:15Z")
    assert code == 0, output
    assert "1 window(s), 300 events" in output
    page = (tmp_path / "out.html").read_text()
    assert "2026-01-01 00:00:10 – 2026-01-01 00:00:20 UTC" in page
    assert "baseline_drift_check" in page  # the shifted window


def test_report_of_a_range_merges_windows(stored: tuple[Path, Path, Path], tmp_path: Path) -> None:
    code, output = _report(
        stored, tmp_path, "--window", "2026-01-01T00:00:00Z", "--end", "2026-01-01T00:00:30Z"
    )
    assert code == 0, output
    assert "3 window(s), 900 events" in output
    assert "(3 windows merged)" in (tmp_path / "out.html").read_text()


def test_report_says_which_windows_exist(stored: tuple[Path, Path, Path], tmp_path: Path) -> None:
    code, output = _report(stored, tmp_path, "--window", "2025-12-31T00:00:00Z")
    assert code == 2
    assert "stored windows start 2026-01-01T00:00:00Z .. 2026-01-01T00:00:20Z" in output
    code, output = _report(stored, tmp_path, "--window", "2026-01-01T00:00:30Z")
    assert code == 2  # after the last window's end: not in any window


def test_report_lists_the_stored_windows(stored: tuple[Path, Path, Path]) -> None:
    reports, _, config = stored
    argv = ["report", "--model", "churn", "--from", str(reports), "--config", str(config), "--list"]
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split("\t")[0] for line in lines] == [
        "2026-01-01T00:00:00Z", "2026-01-01T00:00:10Z", "2026-01-01T00:00:20Z",
    ]  # fmt: skip
    assert lines[1].endswith("churn/modelmon/2026/01/01/00/0010/")
    argv[4] = str(reports / "nowhere")
    empty = CliRunner().invoke(cli, argv)
    assert empty.exit_code == 0 and "0 window(s)" in empty.output


def test_an_unreadable_location_is_an_error_not_an_empty_list(
    stored: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, _, config = stored
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    argv = ["report", "--model", "churn", "--from", "s3://b/r", "--config", str(config), "--list"]
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 2
    assert "cannot reach S3" in result.output
