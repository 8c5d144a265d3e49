"""The clock never stops for a busy cell.

The kernel's asyncio loop does not turn while a synchronous cell runs; the kernel scheduler
times and dispatches thread jobs from its own thread, so a 1-second job keeps firing while
another cell sleeps for 5 seconds.
"""

from __future__ import annotations


def test_one_second_job_keeps_firing_during_a_sleeping_cell(kernel):
    kernel.run(
        "%load_ext nbsched\n"
        "import nbsched, time\n"
        "def tick():\n"
        "    return time.time()\n"
        "%schedule every 1s --name tick tick()\n"
    )
    kernel.wait_for("len(nbsched.get_scheduler().get_run_history('tick', 10)) >= 1")
    # one cell, blocking the kernel's loop for 5 s
    kernel.run("t0 = time.time()\ntime.sleep(5)\nt1 = time.time()", timeout=30)
    window = kernel.value("[t0, t1]")
    starts = kernel.value(
        "[r.start_time.timestamp() for r in nbsched.get_scheduler().get_run_history('tick', 100)"
        " if r.outcome == 'ok']"
    )
    inside = [s for s in starts if window[0] <= s <= window[1]]
    assert len(inside) >= 4, (window, starts)
    # ... and they started on time, not in a burst after the cell ended
    late = kernel.value(
        "[(r.start_time - r.scheduled_time).total_seconds() for r in "
        "nbsched.get_scheduler().get_run_history('tick', 100) if r.outcome == 'ok']"
    )
    assert max(late) < 0.5, late
