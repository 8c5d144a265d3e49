"""Output capture in a real kernel: job output goes to the job's log, never into a cell.

The kernel runs a BackgroundScheduler wired like the kernel scheduler (thread pool, process
pool, AsyncIOExecutor on the kernel's own loop) so these tests depend only on the capture
layer. "Never into a cell" is checked on the wire: every iopub stream/display message the
kernel sends while an unrelated cell runs is inspected, whatever its parent.
"""

from __future__ import annotations

import queue
import time
from typing import Any

import pytest

SETUP = """
import asyncio, logging, sys, time
from IPython.display import HTML, display
from nbsched.executors.asyncio import AsyncIOExecutor
from nbsched.executors.pool import ProcessPoolExecutor, ThreadPoolExecutor
from nbsched.notebook.capture import install_capture
from nbsched.schedulers.background import BackgroundScheduler

sched = BackgroundScheduler(
    executors={"default": ThreadPoolExecutor(4), "process": ProcessPoolExecutor(1),
               "asyncio": AsyncIOExecutor()},
    job_defaults={"misfire_grace_time": None}, timezone="UTC")
sched._eventloop = asyncio.get_running_loop()
cap = install_capture(get_ipython(), sched)
assert install_capture(get_ipython(), sched) is cap  # idempotent
sched.start()

def entries(job_id, stream=None):
    return [e.text for e in cap.get_log(job_id, limit=None)
            if stream is None or e.stream == stream]
"""

JOBS = """
def thread_job():
    print("THREAD-OUT marker")
    print("THREAD-ERR marker", file=sys.stderr)

async def coroutine_job():
    await asyncio.sleep(0)
    print("CORO-OUT marker")

def failing_job():
    logging.getLogger("user.jobs").warning("LOG-WARN marker")
    raise ValueError("BOOM marker")

def display_job():
    display(HTML("<b>DISPLAY marker</b>"))

sched.add_job(thread_job, "interval", seconds=0.2, id="thread")
sched.add_job(coroutine_job, "interval", seconds=0.2, id="coro", executor="asyncio")
sched.add_job(failing_job, "interval", seconds=0.2, id="failing")
sched.add_job(display_job, "interval", seconds=0.2, id="display")
sched.add_job(print, "interval", seconds=0.2, args=["PROC-OUT marker"], id="proc",
              executor="process")
"""

MARKERS = ("THREAD-OUT", "THREAD-ERR", "CORO-OUT", "LOG-WARN", "BOOM", "DISPLAY", "PROC-OUT",
           "raised an exception")


def run_collecting_everything(kernel: Any, code: str, timeout: float = 30) -> list[dict]:
    """Run ``code``; return every stream/display/error iopub message seen meanwhile (any parent)."""
    msg_id = kernel.kc.execute(code)
    deadline = time.monotonic() + timeout
    seen: list[dict] = []
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"cell did not finish: {code!r}"
        try:
            msg = kernel.kc.get_iopub_msg(timeout=remaining)
        except queue.Empty:
            continue
        kind = msg["msg_type"]
        if kind in ("stream", "display_data", "update_display_data", "error", "clear_output"):
            seen.append({"type": kind, "parent": msg["parent_header"].get("msg_id"),
                         "content": msg["content"]})
        if (kind == "status" and msg["content"]["execution_state"] == "idle"
                and msg["parent_header"].get("msg_id") == msg_id):
            return seen


def leaked(messages: list[dict]) -> list[str]:
    text = repr([m["content"] for m in messages])
    return [marker for marker in MARKERS if marker in text]


@pytest.fixture(scope="module")
def jobs_kernel(module_kernel):
    module_kernel.run(SETUP)
    module_kernel.run(JOBS)
    return module_kernel


def test_busy_cell_receives_none_of_the_jobs_output(jobs_kernel) -> None:
    messages = run_collecting_everything(jobs_kernel, "time.sleep(3); print('cell output')")
    assert [m["content"].get("text") for m in messages if m["type"] == "stream"] == [
        "cell output\n"
    ]
    assert leaked(messages) == []
    # The jobs did run during the cell (thread and process pools do not need the loop).
    assert jobs_kernel.value("len(entries('thread', 'stdout')) >= 5")
    assert jobs_kernel.value("len(entries('proc', 'stdout')) >= 3")


def test_async_cell_receives_none_of_a_coroutine_jobs_output(jobs_kernel) -> None:
    # An awaiting cell lets the kernel loop turn, so coroutine jobs run *during* the cell.
    before = jobs_kernel.value("len(entries('coro'))")
    messages = run_collecting_everything(jobs_kernel, "await asyncio.sleep(1.5)")
    assert leaked(messages) == []
    assert jobs_kernel.value(f"len(entries('coro')) > {before} + 2")


def test_each_kind_of_output_lands_in_its_jobs_log(jobs_kernel) -> None:
    kernel = jobs_kernel
    assert kernel.wait_for("'THREAD-OUT marker\\n' in entries('thread', 'stdout')")
    assert kernel.value("'THREAD-ERR marker\\n' in entries('thread', 'stderr')")
    assert kernel.wait_for("'CORO-OUT marker\\n' in entries('coro', 'stdout')")
    assert kernel.wait_for("'PROC-OUT marker\\n' in entries('proc', 'stdout')")
    assert kernel.value("'WARNING:user.jobs:LOG-WARN marker' in entries('failing', 'log')")
    errors = kernel.value("entries('failing', 'error')[:1]")
    assert errors[0].startswith("Traceback (most recent call last):")
    assert errors[0].rstrip().endswith("ValueError: BOOM marker")
    assert "failing_job" in errors[0]
    html = kernel.value("[e.data.get('text/html') for e in cap.get_log('display')][:1]")
    assert html == ["<b>DISPLAY marker</b>"]
    # Entries carry the run's fire time; the engine's own "raised" record is not the job's.
    assert kernel.value("all(e.scheduled_time is not None for e in cap.get_log('thread'))")
    assert kernel.value("any('raised an exception' in t for t in entries(None))")
    assert not kernel.value("any('raised an exception' in t for t in entries('failing'))")


def test_process_job_logging_and_failure_come_back_from_the_worker(jobs_kernel) -> None:
    kernel = jobs_kernel
    kernel.run(
        "def worker_job():\n"
        "    import logging, sys\n"
        "    print('W-OUT', end='')\n"
        "    print(' continued')\n"
        "    sys.stderr.write('W-ERR\\n')\n"
        "    logging.getLogger('user.worker').error('W-LOG')\n"
        "    raise KeyError('W-BOOM')\n"
        "sched.add_job(worker_job, id='worker', executor='process')\n"
    )
    assert kernel.wait_for("entries('worker', 'error')", timeout=30)
    assert kernel.value("entries('worker', 'stdout')") == ["W-OUT continued\n"]
    assert kernel.value("entries('worker', 'stderr')") == ["W-ERR\n"]
    assert kernel.value("entries('worker', 'log')") == ["ERROR:user.worker:W-LOG\n"]
    assert "KeyError: 'W-BOOM'" in kernel.value("entries('worker', 'error')[0]")


def test_partial_lines_logs_bounds_and_listeners(jobs_kernel) -> None:
    kernel = jobs_kernel
    kernel.run(
        "seen = []\n"
        "cap.add_listener(lambda job_id, e: seen.append((job_id, e.stream, e.text))"
        " if job_id == 'many' else None)\n"
        "def many():\n"
        "    for i in range(600):\n"
        "        print('line', i)\n"
        "    print('no newline', end='')\n"
        "sched.add_job(many, id='many')\n"
    )
    assert kernel.wait_for("len(entries('many')) == 500 and entries('many')[-1] == 'no newline'")
    assert kernel.value("entries('many')[0]") == "line 101\n"
    assert kernel.value("len(seen)") == 601
    assert kernel.value("len(cap.get_log('many'))") == 200  # the default limit
    assert kernel.value("[e.text for e in cap.get_log('many', limit=2)]") == [
        "line 599\n", "no newline"
    ]
    assert kernel.value("cap.get_log('never-ran')") == []


def test_cells_keep_their_own_output_and_logging(jobs_kernel) -> None:
    kernel = jobs_kernel
    outputs, error = kernel.execute(
        "import logging\nprint('out'); print('err', file=sys.stderr)\n"
        "logging.getLogger('cell').warning('cell warning')\n"
        "display(HTML('<i>cell display</i>'))"
    )
    assert error is None
    def stream(name: str) -> str:
        return "".join(o["text"] for o in outputs
                       if o["output_type"] == "stream" and o["name"] == name)

    assert stream("stdout") == "out\n"
    # Unconfigured logging still prints a cell's warnings (as logging.lastResort would).
    assert stream("stderr") == "err\ncell warning\n"
    assert any("<i>cell display</i>" in str(o.get("data")) for o in outputs)


def test_configured_stream_handlers_do_not_leak_job_records(kernel) -> None:
    # A handler that grabbed the kernel's stderr before capture was installed ...
    kernel.run("import logging, sys\n"
               "logging.getLogger('early').addHandler(logging.StreamHandler(sys.stderr))")
    kernel.run(SETUP)
    # ... and one configured afterwards, the usual notebook way (it must still work).
    kernel.run(
        "logging.basicConfig(format='%(levelname)s %(message)s')\n"
        "def warn():\n"
        "    logging.getLogger('user').warning('CONFIGURED marker')\n"
        "    logging.getLogger('early').warning('EARLY marker')\n"
        "sched.add_job(warn, 'interval', seconds=0.2, id='warn')\n"
    )
    messages = run_collecting_everything(kernel, "time.sleep(1.2)")
    assert "CONFIGURED" not in repr(messages) and "EARLY" not in repr(messages)
    texts = kernel.value("[(e.stream, e.text) for e in cap.get_log('warn')][:4]")
    # Filed once each as log entries: no stderr copy from the handlers.
    assert texts == [["log", "WARNING:user:CONFIGURED marker"],
                     ["log", "WARNING:early:EARLY marker"]] * 2
    # The cell's own records still reach the handler the user configured.
    outputs, _ = kernel.execute("logging.getLogger('user').warning('from the cell')")
    assert kernel.text(outputs) == "WARNING from the cell\n"

    # Control: without capture the same job output does land in a cell — the trap is real.
    kernel.run("cap.uninstall(); sched.add_job(print, 'interval', seconds=0.2, "
               "args=['UNCAPTURED marker'], id='loud')")
    messages = run_collecting_everything(kernel, "time.sleep(1.2)")
    assert "UNCAPTURED marker" in repr(messages)
    kernel.run("sched.shutdown(wait=False)")


def test_load_ext_installs_capture_for_the_kernel_scheduler(kernel) -> None:
    kernel.run("%load_ext nbsched")
    kernel.run(
        "import nbsched, sys\n"
        "from nbsched.notebook.capture import get_capture\n"
        "def kernel_job():\n"
        "    print('KERNEL-JOB marker')\n"
        "    print('KERNEL-JOB err', file=sys.stderr)\n"
        "nbsched.get_scheduler().add_job(kernel_job, 'interval', seconds=0.2, id='kj')\n"
    )
    messages = run_collecting_everything(kernel, "import time; time.sleep(1.2)")
    assert "KERNEL-JOB" not in repr(messages)
    streams = kernel.value("sorted({e.stream for e in get_capture().get_log('kj')})")
    assert streams == ["stderr", "stdout"]
    kernel.run("nbsched.get_scheduler().remove_job('kj')")
