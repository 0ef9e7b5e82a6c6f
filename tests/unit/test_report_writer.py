"""The report writer the detector and the label join share (local directories)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from modelmon.adapters.reports import ReportWriter
from modelmon.names import UnsafeNameError
from modelmon.settings import AwsSettings


def test_processes_writing_one_shared_file_never_collide(tmp_path: Path) -> None:
    # two detectors write the one shared plotly.js at once: each through a temp file of its own
    writer = ReportWriter(AwsSettings(), str(tmp_path))
    texts = [f"copy {i}\n" * 1000 for i in range(8)]
    target = str(tmp_path / "_assets") + "/"
    with ThreadPoolExecutor(8) as pool:
        for _ in range(5):
            list(pool.map(lambda t: writer.write(target, {"plotly.min.js": t}), texts))
    assert (tmp_path / "_assets/plotly.min.js").read_text() in texts
    assert [p.name for p in (tmp_path / "_assets").iterdir()] == ["plotly.min.js"]


def test_a_report_folder_outside_the_root_is_refused(tmp_path: Path) -> None:
    writer = ReportWriter(AwsSettings(), str(tmp_path / "out"))
    with pytest.raises(UnsafeNameError):
        writer.write(str(tmp_path / "out") + "/../escaped/", {"statistics.json": "{}"})
    assert not (tmp_path / "escaped").exists()
