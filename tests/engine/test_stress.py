"""Thread-safety under load: several threads change jobs at random while short jobs keep firing.

Each worker thread owns its own job ids and keeps the state it expects them to be in, so at the
end the scheduler's jobs can be compared exactly with what the threads did. Operations and
parameters come from ``random.Random(seed)`` so a failure can be replayed.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from datetime import datetime, timedelta, timezone

UTC = timezone.utc
SEED = 20240611
THREADS = 4
OPERATIONS = 400
FIRING_JOBS = 6


def test_concurrent_changes_while_jobs_fire(make_scheduler, make_recorder, api, caplog):
    caplog.set_level(logging.WARNING)
    ev = api.events
    began = time.monotonic()
    sched = make_scheduler(executors={"default": api.ThreadPoolExecutor(8)},
                           job_defaults={"misfire_grace_time": None})
    recorder = make_recorder()
    sched.add_listener(recorder, ev.EVENT_JOB_EXECUTED | ev.EVENT_JOB_ERROR)
    listener_errors: list[BaseException] = []

    def checking_listener(event):
        # Listeners run while other threads mutate the store: the job must still be readable.
        try:
            if event.code == ev.EVENT_JOB_MODIFIED:
                sched.get_job(event.job_id)
        except BaseException as exc:  # pragma: no cover - reported below
            listener_errors.append(exc)

    sched.add_listener(checking_listener)
    sched.start()

    runs = {f"fire-{i}": 0 for i in range(FIRING_JOBS)}
    runs_lock = threading.Lock()

    def fire(job_id):
        with runs_lock:
            runs[job_id] += 1

    for job_id in runs:
        sched.add_job(fire, "interval", seconds=0.05, args=[job_id], id=job_id,
                      next_run_time=datetime.now(UTC))

    expected: dict[str, str] = {}  # job id -> "active" | "paused"
    expected_lock = threading.Lock()
    failures: list[BaseException] = []
    go = threading.Barrier(THREADS)

    def worker(index):
        rng = random.Random(SEED + index)
        mine: dict[str, str] = {}
        counter = 0
        try:
            go.wait(10)
            for _ in range(OPERATIONS):
                operation = rng.choice(
                    ["add", "add", "modify", "reschedule", "pause", "resume", "remove", "get"]
                )
                if operation == "add" or not mine:
                    job_id = f"t{index}-{counter}"
                    counter += 1
                    if rng.random() < 0.5:
                        sched.add_job(fire_noop, "interval", seconds=rng.choice([0.05, 0.1, 60]),
                                      id=job_id, name=job_id)
                    else:
                        sched.add_job(fire_noop, "date", id=job_id, name=job_id,
                                      run_date=datetime.now(UTC) + timedelta(hours=1))
                    mine[job_id] = "active"
                    continue
                job_id = rng.choice(sorted(mine))
                if operation == "modify":
                    sched.modify_job(job_id, name=f"{job_id}-{rng.randrange(100)}",
                                     max_instances=rng.randrange(1, 4))
                elif operation == "reschedule":
                    sched.reschedule_job(job_id, trigger="interval",
                                         seconds=rng.choice([0.05, 0.2, 30]))
                    mine[job_id] = "active"
                elif operation == "pause":
                    sched.pause_job(job_id)
                    mine[job_id] = "paused"
                elif operation == "resume":
                    sched.resume_job(job_id)
                    mine[job_id] = "active"
                elif operation == "remove":
                    sched.remove_job(job_id)
                    del mine[job_id]
                else:
                    assert sched.get_job(job_id).id == job_id
                    assert sched.get_jobs()
        except BaseException as exc:
            failures.append(exc)
        finally:
            with expected_lock:
                expected.update(mine)

    threads = [threading.Thread(target=worker, args=(i,), name=f"stress-{i}")
               for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(15)
    assert not any(t.is_alive() for t in threads), "worker threads did not finish"

    # Jobs keep firing while (and after) the workers ran.
    recorder.wait(ev.EVENT_JOB_EXECUTED, count=len(recorder.matching(ev.EVENT_JOB_EXECUTED)) + 5)
    sched.pause()
    jobs = {job.id: job for job in sched.get_jobs()}
    sched.shutdown(wait=True)
    elapsed = time.monotonic() - began

    assert failures == []
    assert listener_errors == []
    assert set(jobs) == set(expected) | set(runs)
    for job_id, state in expected.items():
        # A date job still due in an hour or a paused one: its state is exactly known.
        if state == "paused":
            assert jobs[job_id].next_run_time is None, job_id
        else:
            assert jobs[job_id].next_run_time is not None, job_id
    assert all(count > 0 for count in runs.values()), runs
    assert not recorder.matching(ev.EVENT_JOB_ERROR)
    bad_logs = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert bad_logs == [], [r.getMessage() for r in bad_logs]
    assert elapsed < 15, f"stress test took {elapsed:.1f} s"


def fire_noop():
    return None
