"""Every notebook in notebooks/ runs top to bottom in a real kernel, and is stored clean."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))
REPO = Path(__file__).resolve().parents[2]


def test_there_are_notebooks():
    assert {p.name for p in NOTEBOOKS} >= {"quickstart.ipynb", "persistence.ipynb",
                                           "cpu_jobs.ipynb"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path, tmp_path, monkeypatch):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    monkeypatch.setenv("NBSCHED_DATA_DIR", str(data_dir))
    monkeypatch.setenv("NBSCHED_STORE_URL", f"sqlite:///{data_dir / 'jobs.sqlite'}")
    monkeypatch.setenv("NBSCHED_SECRET_KEY", "nbsched-test-suite-key")
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    started = time.monotonic()
    client.execute()
    elapsed = time.monotonic() - started
    errors = [
        out for cell in nb.cells if cell.cell_type == "code"
        for out in cell.outputs if out.output_type == "error"
    ]
    assert errors == []
    assert elapsed < 30, f"{path.name} took {elapsed:.1f} s"
