"""Run notebooks/quickstart.ipynb headless and show what happened.

The notebook runs in a real kernel (nbclient) against the embedded default store — an SQLite
file — in a throw-away data directory, so nothing touches your own jobs or signing key. Then
this script reads the same store from outside the kernel and prints, as rich tables: each
cell and what it printed, the jobs the notebook had scheduled (read just before its clean-up
cell), every run in the store's history, and what a job printed (its captured log).

Usage: ``python scripts/demo_notebook.py [NOTEBOOK]`` (default: notebooks/quickstart.ipynb)
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def _cell_text(cell: Any) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type in ("execute_result", "display_data"):
            parts.append(str(out.data.get("text/plain", "")))
        elif out.output_type == "error":
            parts.append(f"{out.ename}: {out.evalue}")
    return "".join(parts).strip()


def _read_store(url: str) -> tuple[list[Any], list[Any]]:
    """The jobs and run history in the store, read by a paused scheduler that runs nothing."""
    from nbsched.jobstores.sqlalchemy import SQLAlchemyJobStore
    from nbsched.schedulers.background import BackgroundScheduler

    scheduler = BackgroundScheduler(jobstores={"default": SQLAlchemyJobStore(url=url)})
    scheduler.start(paused=True)
    try:
        return scheduler.get_jobs(), scheduler.get_run_history(limit=10_000)
    finally:
        scheduler.shutdown(wait=False)


def main(argv: list[str]) -> int:
    notebook_path = Path(argv[1]) if len(argv) > 1 else REPO / "notebooks" / "quickstart.ipynb"
    workdir = Path(tempfile.mkdtemp(prefix="nbsched-demo-"))
    data_dir = workdir / "data"
    # The kernel inherits these: a private data dir, and no store URL so the embedded
    # SQLite default (<data dir>/jobs.sqlite) is what the notebook uses.
    os.environ["NBSCHED_DATA_DIR"] = str(data_dir)
    os.environ.pop("NBSCHED_STORE_URL", None)
    os.environ["IPYTHONDIR"] = str(workdir / "ipython")
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p
    )

    import nbclient
    import nbformat
    from rich.console import Console
    from rich.panel import Panel
    from rich.table import Table

    from nbsched.notebook.display import HistoryView, JobListView
    from nbsched.store_url import default_store_url

    console = Console(width=None if sys.stdout.isatty() else 140)
    store_url = default_store_url()
    console.print(Panel.fit(
        f"[bold]nbsched notebook demo[/bold]\nnotebook: {notebook_path}\nstore: {store_url}",
    ))

    nb = nbformat.read(notebook_path, as_version=4)
    cleanup = next(
        (i for i, c in enumerate(nb.cells)
         if c.cell_type == "code" and "%schedule remove" in c.source and i > len(nb.cells) // 2),
        None,
    )
    client = nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}
    )
    jobs_before_cleanup: list[Any] = []
    timings: dict[int, float] = {}
    started = time.monotonic()
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            if index == cleanup:
                jobs_before_cleanup, _ = _read_store(store_url)
            t0 = time.monotonic()
            client.execute_cell(cell, index)
            timings[index] = time.monotonic() - t0
    total = time.monotonic() - started

    cells = Table(title=f"Cells ({total:.1f} s in all)", title_justify="left")
    for column in ("#", "source", "s", "output"):
        cells.add_column(column, overflow="fold")
    errors = 0
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        errors += any(o.output_type == "error" for o in cell.outputs)
        first = next((ln for ln in cell.source.splitlines() if ln.strip()), "")
        text = _cell_text(cell)
        if len(text) > 600:
            text = text[:600] + " ..."
        cells.add_row(str(index), first, f"{timings.get(index, 0):.2f}", text)
    console.print(cells)

    jobs_after, history = _read_store(store_url)
    console.print(JobListView(jobs_before_cleanup, history,
                              title="Jobs in the store before the clean-up cell").__rich__())
    counts = Counter((r.job_id, r.outcome) for r in history)
    summary = Table(title="Runs per job (from the store's history)", title_justify="left")
    for column in ("job", "outcome", "runs"):
        summary.add_column(column)
    for (job_id, outcome), count in sorted(counts.items()):
        summary.add_row(job_id, outcome, str(count))
    console.print(summary)
    console.print(HistoryView(history[:15], title="Latest runs").__rich__())

    log_cells = [c for c in nb.cells if c.cell_type == "code" and "%schedule log" in c.source]
    for cell in log_cells:
        console.print(Panel(_cell_text(cell) or "(nothing)", title=cell.source.strip()))
    console.print(
        f"jobs left in the store after the notebook: {len(jobs_after)}; "
        f"cells with errors: {errors}; data dir: {data_dir}"
    )
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
