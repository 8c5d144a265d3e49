"""One worker crash fails only the run that crashed (issue 11, point 8).

Before the fix, with one job calling ``os._exit(1)`` in a pool of 4 workers, the innocent
runs that had already begun in the other 3 workers were reported as ``WorkerCrashedError``:
``concurrent.futures`` declares the whole pool broken and terminates every worker. Now
those runs are run again, once, in the replacement pool. Real worker processes.

Deterministic without timing guesses: the crashing job waits until the 3 other workers have
each begun an innocent run, and an innocent run that begins before the crash waits for it
(it is then terminated with its pool), so exactly 3 innocent runs are caught by the crash.
"""

from __future__ import annotations

import os
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from nbsched.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED
from nbsched.executors.callpayload import WorkerCrashedError
from nbsched.executors.pool import ProcessPoolExecutor
from nbsched.schedulers.background import BackgroundScheduler

WORKERS = 4
INNOCENT = 16
CAP = 15.0  # safety cap on the waits below; never reached when things work


def _lines(path: str) -> list[str]:
    try:
        return Path(path).read_text().splitlines()
    except FileNotFoundError:
        return []


def _wait_for(predicate, cap: float = CAP) -> None:
    deadline = time.monotonic() + cap
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.01)


def innocent(index: int, runs: str, crashed: str) -> int:
    fd = os.open(runs, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(fd, f"{index} {os.getpid()}\n".encode())
    finally:
        os.close(fd)
    if not os.path.exists(crashed):
        # Begun in the pool that is about to break: stay running until the crash, after
        # which the pool terminates this worker.
        _wait_for(lambda: os.path.exists(crashed))
        _wait_for(lambda: False, cap=CAP)
    return index


def crasher(runs: str, crashed: str) -> None:
    _wait_for(lambda: len(_lines(runs)) >= WORKERS - 1)
    Path(crashed).write_text(str(os.getpid()))
    os._exit(1)


def test_one_worker_crash_fails_only_the_crashing_run(tmp_path, caplog):
    runs, crashed = str(tmp_path / "runs"), str(tmp_path / "crashed")
    events = []
    done = threading.Event()

    def listener(event):
        events.append(event)
        if len(events) >= INNOCENT + 1:
            done.set()

    scheduler = BackgroundScheduler(
        executors={"default": ProcessPoolExecutor(WORKERS)},
        timezone="UTC",
        job_defaults={"misfire_grace_time": None},
    )
    scheduler.add_listener(listener, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    scheduler.start(paused=True)
    try:
        due = datetime.now(timezone.utc) + timedelta(seconds=0.2)
        scheduler.add_job(crasher, "date", run_date=due, args=(runs, crashed), id="crash")
        for index in range(INNOCENT):
            scheduler.add_job(
                innocent, "date", run_date=due, args=(index, runs, crashed), id=f"innocent-{index}"
            )
        scheduler.resume()
        assert done.wait(60), f"only {len(events)} events: {events!r}"
    finally:
        scheduler.shutdown()

    errors = [e for e in events if e.code == EVENT_JOB_ERROR]
    executed = [e for e in events if e.code == EVENT_JOB_EXECUTED]
    assert [e.job_id for e in errors] == ["crash"], [(e.job_id, e.exception) for e in errors]
    assert isinstance(errors[0].exception, WorkerCrashedError)
    assert "exited with code 1" in str(errors[0].exception)
    assert sorted(e.retval for e in executed) == list(range(INNOCENT))

    per_job: dict[int, int] = {}
    for line in _lines(runs):
        index = int(line.split()[0])
        per_job[index] = per_job.get(index, 0) + 1
    assert set(per_job) == set(range(INNOCENT))
    assert max(per_job.values()) <= 2, per_job
    rerun = sorted(index for index, count in per_job.items() if count == 2)
    # The 3 runs the crash interrupted ran again, and each is named in a warning.
    assert len(rerun) == WORKERS - 1, per_job
    warned = [r.getMessage() for r in caplog.records if "run again" in r.getMessage()]
    assert len(warned) == WORKERS - 1, warned
    for index in rerun:
        assert any(f"innocent-{index} " in message for message in warned), warned
