"""Jobs outlive the kernel: restart it, load the extension again, and they run again.

Nothing re-defines the job's function after the restart — it comes back by value from the
store — and a ``%%schedule`` cell body runs in the *new* kernel's namespace.
"""

from __future__ import annotations


def test_jobs_run_again_after_restart_without_redefining(kernel):
    beats = kernel.data_dir / "beats.txt"
    kernel.run(
        "%load_ext nbsched\n"
        "import nbsched\n"
        "def beat(path, mark):\n"
        "    with open(path, 'a') as fh:\n"
        "        fh.write(mark)\n"
        "    return mark\n"
        f"%schedule every 1s --name beat beat({str(beats)!r}, 'x')\n"
    )
    kernel.run("%%schedule every 1s --name cellbeat\n"
               "cell_beats = globals().get('cell_beats', 0) + 1\n")
    kernel.wait_for(f"__import__('os').path.exists({str(beats)!r})")
    kernel.wait_for("globals().get('cell_beats', 0) >= 1")

    kernel.restart()
    assert kernel.value("'beat' in globals() or 'cell_beats' in globals()") is False
    kernel.run("%load_ext nbsched\nimport nbsched")
    before = len(beats.read_text())
    assert kernel.value("sorted(j.name for j in nbsched.get_scheduler().get_jobs())") == [
        "beat", "cellbeat"
    ]
    kernel.wait_for(f"len(open({str(beats)!r}).read()) > {before}")
    # the cell job runs in the new kernel's namespace
    kernel.wait_for("globals().get('cell_beats', 0) >= 1")
    assert kernel.value("'beat' in globals()") is False
    # the history of the restored job, written by both kernels, lives in the store
    assert kernel.value(
        "sum(r.outcome == 'ok' for r in nbsched.get_scheduler().get_run_history('beat', 100))"
    ) >= 2

    # unloading stops the clock; loading again brings the same stored jobs back
    kernel.run("%unload_ext nbsched")
    assert kernel.value("sum(t.name == 'nbsched' for t in __import__('threading').enumerate())") \
        == 0
    kernel.run("%load_ext nbsched")
    assert kernel.value("len(nbsched.get_scheduler().get_jobs())") == 2
