"""examples/notebook.ipynb runs top to bottom against a real Jupyter kernel (nbclient) and
leaves the files it says it writes."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).parents[2] / "examples" / "notebook.ipynb"


def test_the_example_notebook_runs(tmp_path: Path) -> None:
    shutil.copy(NOTEBOOK, tmp_path / NOTEBOOK.name)
    notebook = nbformat.read(tmp_path / NOTEBOOK.name, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=180,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # a cell that raises fails the test (CellExecutionError)
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    html = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert any(h.startswith("<iframe srcdoc=") for h in html)  # the report, inline
    assert (tmp_path / "report.html").stat().st_size > 0
    for name in ("statistics.json", "constraint_violations.json", "report.html"):
        assert (tmp_path / "monitoring" / name).is_file()
    assert (tmp_path / "baseline" / "constraints.json").is_file()
