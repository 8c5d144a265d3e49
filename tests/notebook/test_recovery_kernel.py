"""Restart recovery in a real kernel: kill it mid-run, start it again, see what is reported.

The job's function is defined in the first kernel only; after the restart it runs from its
stored by-value copy.
"""

from __future__ import annotations

import signal
import time

SETUP = """
import os
from nbsched.jobstores.sqlalchemy import SQLAlchemyJobStore
from nbsched.notebook.recovery import recover
from nbsched.schedulers.background import BackgroundScheduler
import nbsched.notebook.recovery as rec
store = SQLAlchemyJobStore(url=os.environ["NBSCHED_STORE_URL"])
sched = BackgroundScheduler(jobstores={"default": store}, timezone="UTC")
sched.start(paused=True)
report = recover(sched)
"""


def test_killed_kernel_run_is_abandoned_and_missed_runs_are_reported_once(kernel) -> None:
    delay_file = kernel.data_dir / "delay"
    runs_file = kernel.data_dir / "runs"
    delay_file.write_text("60")
    kernel.run(SETUP + "sched.resume()")
    kernel.run(
        "import time\n"
        "def slow(runs, delay):\n"
        "    with open(runs, 'a') as f:\n"
        "        f.write('run\\n')\n"
        "    time.sleep(float(open(delay).read()))\n"
        f"sched.add_job(slow, 'interval', seconds=1, args=[{str(runs_file)!r}, "
        f"{str(delay_file)!r}], id='slow', misfire_grace_time=None)\n"
    )
    kernel.wait_for("[r for ledger in rec._ledgers.values() for r in ledger.in_flight()]")
    assert runs_file.read_text() == "run\n"
    kernel.km.signal_kernel(signal.SIGKILL)
    deadline = time.monotonic() + 10
    while kernel.km.is_alive():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(2.5)  # the kernel stays down for a few fire times: that is the scenario
    kernel.restart()

    delay_file.write_text("0")
    printed = kernel.run(SETUP)
    lines = printed.splitlines()
    assert lines[0] == (
        "job slow: 1 run left unfinished by a kernel that exited; recorded as abandoned"
    )
    assert lines[1].startswith("job slow missed ")
    assert lines[1].endswith(" runs while the kernel was down; ran once (coalesce)")
    assert int(lines[1].split()[3]) >= 2
    assert len(lines) == 2
    assert kernel.value("[r.outcome for r in sched.get_run_history('slow')]") == ["abandoned"]

    # Loading again in the same kernel reports nothing new.
    assert kernel.run("again = recover(sched)") == ""
    # The stored job runs again without its function being defined in this kernel.
    assert kernel.run("'slow' in globals()") == "False\n"
    kernel.run("sched.resume()")
    assert kernel.wait_for("[r.outcome for r in sched.get_run_history('slow')][:1] == ['ok']")
    assert runs_file.read_text().startswith("run\nrun\n")
    kernel.run("sched.shutdown(wait=False)")
