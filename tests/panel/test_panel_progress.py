"""nbsched.progress(): validation, and progress bars in the panel for thread, asyncio and
process-pool jobs (the worker reports through its per-run file)."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

import nbsched.progress as progress_module
from nbsched.jobstores.memory import MemoryJobStore
from nbsched.notebook.kernel import KernelScheduler
from nbsched.notebook.panel import JobPanel
from nbsched.progress import progress, progress_dir, registry, run_file_name
from nbsched.runcontext import run_context

RELEASE = threading.Event()


def thread_job():
    progress(1, 4, "one of four")
    RELEASE.wait(10)
    progress(4, 4)


async def coroutine_job():
    progress(1, 4, "one of four")
    while not RELEASE.is_set():
        await asyncio.sleep(0.01)
    progress(4, 4)


def process_job(release_path):
    import nbsched.progress as report  # the module is callable: nbsched.progress(...)

    report(1, 4, "one of four")
    deadline = time.monotonic() + 10
    while not os.path.exists(release_path) and time.monotonic() < deadline:
        time.sleep(0.01)
    report(4, 4)


@pytest.fixture(scope="module")
def kernel_scheduler():
    """The kernel scheduler's three executors (thread, process, asyncio) on a memory store."""
    sched = KernelScheduler(jobstores={"default": MemoryJobStore()}, timezone="UTC",
                            process_workers=1)
    sched.start()
    yield sched
    sched.shutdown(wait=True)


@pytest.fixture
def progress_folder():
    # The default folder: an override in the environment would not reach workers forked
    # from a fork server started earlier in the session.
    return progress_dir()


def test_progress_outside_a_run_does_nothing():
    assert progress(1, 2) is None


def test_progress_records_the_current_run():
    when = datetime.now(timezone.utc)
    with run_context("report", None, when):
        item = progress(3, 12, "quarter")
    assert (item.done, item.total, item.message, item.fraction) == (3, 12, "quarter", 0.25)
    assert registry.get("report") == item == registry.get("report", when)
    registry.finish("report", when)
    assert registry.get("report") is None


@pytest.mark.parametrize(("args", "error", "match"), [
    ((-1, 10), ValueError, "done"),
    ((11, 10), ValueError, "done"),
    ((1, 0), ValueError, "total"),
    ((1, float("nan")), ValueError, "total"),
    (("1", 10), TypeError, "done"),
    ((1, None), TypeError, "total"),
    ((1, 2, 3), TypeError, "message"),
])
def test_progress_refuses_bad_input(args, error, match):
    with pytest.raises(error, match=match):
        progress(*args)


def test_the_module_itself_is_callable():
    with run_context("callable", None, datetime.now(timezone.utc)) as run:
        assert progress_module(1, 2).job_id == "callable"
    registry.finish("callable", run.scheduled_time)


def test_registry_stays_bounded():
    small = progress_module.ProgressRegistry(max_runs=3)
    when = datetime.now(timezone.utc)
    for number in range(10):
        small.report(progress_module.Progress(f"j{number}", when, 1, 2, None, 0.0))
    assert len(small) == 3 and small.get("j9") is not None and small.get("j0") is None


@pytest.mark.parametrize("executor", ["default", "asyncio", "process"])
def test_panel_shows_progress_of_a_running_job(kernel_scheduler, executor, progress_folder,
                                               tmp_path, wait_until):
    RELEASE.clear()
    release_file = tmp_path / "release"
    func, args = {"default": (thread_job, ()), "asyncio": (coroutine_job, ()),
                  "process": (process_job, (str(release_file),))}[executor]
    job_id = f"progress-{executor}"
    kernel_scheduler.add_job(func, "interval", hours=1, id=job_id, args=args,
                             executor=executor)
    view = JobPanel(kernel_scheduler, autostart=False)
    try:
        view.do("run", job_id)

        def shows_progress():
            view.tick()
            return view.row_texts(job_id)["progress"] == "one of four"

        wait_until(shows_progress, timeout=20,
                   what=lambda: f"progress of the {executor} job: {view.row_texts(job_id)}, "
                                f"{kernel_scheduler.get_run_history(job_id)}")
        texts = view.row_texts(job_id)
        assert texts["state"] == "running"
        assert texts["progress_visible"] == "visible"
        assert float(texts["progress_value"]) == 0.25
        [when] = view._info[job_id].running
        if executor == "process":
            assert (progress_folder / run_file_name(job_id, when)).exists()
        RELEASE.set()
        release_file.write_text("go")

        def finished():
            view.tick()
            return view.row_texts(job_id)["state"] == "scheduled"

        wait_until(finished, timeout=20, what=f"the {executor} job to finish")
        assert view.row_texts(job_id)["last"].startswith("ok")
        assert view.row_texts(job_id)["progress_visible"] == "hidden"
        assert registry.get(job_id, when) is None
        assert not (progress_folder / run_file_name(job_id, when)).exists()
    finally:
        RELEASE.set()
        view.close()
        kernel_scheduler.remove_job(job_id)


def test_progress_dir_default_is_per_user(monkeypatch):
    monkeypatch.delenv("NBSCHED_PROGRESS_DIR", raising=False)
    assert progress_dir().name == f"nbsched-progress-{os.getuid()}"
    assert isinstance(progress_dir(), Path)
