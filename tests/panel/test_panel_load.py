"""A panel left open for an hour: 200 jobs, one simulated hour of events, one tick a second.

Events are dispatched through the scheduler's real listener path (the scheduler is paused so
nothing runs for real); the panel is ticked once per simulated second, as its timer would.
The figures are printed (``pytest -s``) and quoted in docs/panel.md.
"""

from __future__ import annotations

import statistics
import time
from datetime import datetime, timedelta, timezone

import pytest

from nbsched.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MODIFIED,
    EVENT_JOB_SUBMITTED,
    JobEvent,
    JobExecutionEvent,
    JobSubmissionEvent,
)
from nbsched.jobstores.memory import MemoryJobStore
from nbsched.notebook.panel import JobPanel
from nbsched.schedulers.background import BackgroundScheduler

JOBS = 200
SIMULATED_SECONDS = 3600
PERIODS = (5, 10, 30, 60, 300, 900)  # seconds between a job's runs


def work():
    return None


@pytest.mark.slow
def test_an_hour_of_events_for_200_jobs_keeps_ticks_cheap():
    scheduler = BackgroundScheduler(jobstores={"default": MemoryJobStore()}, timezone="UTC")
    scheduler.start(paused=True)
    try:
        for number in range(JOBS):
            scheduler.add_job(work, "interval", seconds=PERIODS[number % len(PERIODS)],
                              id=f"job{number:03d}")
        view = JobPanel(scheduler, autostart=False)
        dispatch = scheduler._dispatch_event
        base = datetime.now(timezone.utc)
        tick_times: list[float] = []
        event_count = 0
        event_seconds = 0.0
        for second in range(SIMULATED_SECONDS):
            when = base + timedelta(seconds=second)
            started = time.perf_counter()
            for number in range(JOBS):
                if second % PERIODS[number % len(PERIODS)]:
                    continue
                job_id = f"job{number:03d}"
                dispatch(JobSubmissionEvent(EVENT_JOB_SUBMITTED, job_id, "default", [when]))
                code = EVENT_JOB_ERROR if number % 17 == 0 else EVENT_JOB_EXECUTED
                dispatch(JobExecutionEvent(code, job_id, "default", when, start_time=when,
                                           end_time=when + timedelta(milliseconds=30)))
                event_count += 2
            if second % 10 == 0:
                dispatch(JobEvent(EVENT_JOB_MODIFIED, f"job{second % JOBS:03d}", "default"))
                event_count += 1
            event_seconds += time.perf_counter() - started
            tick_times.append(view.tick())
        view.close()
    finally:
        scheduler.shutdown(wait=False)

    mean = statistics.fmean(tick_times)
    p99 = sorted(tick_times)[int(len(tick_times) * 0.99)]
    first = statistics.fmean(tick_times[60:660])
    last = statistics.fmean(tick_times[-600:])
    per_event_us = event_seconds / event_count * 1e6
    print(f"\n{JOBS} jobs, {SIMULATED_SECONDS} ticks, {event_count} events: tick mean "
          f"{mean * 1e3:.2f} ms, p99 {p99 * 1e3:.2f} ms, max {max(tick_times) * 1e3:.2f} ms; "
          f"first 10 min {first * 1e3:.2f} ms, last 10 min {last * 1e3:.2f} ms; dispatch "
          f"incl. panel listener {per_event_us:.1f} us/event")
    # One tick a second must stay a small fraction of a second, and must not grow.
    assert mean < 0.010
    assert p99 < 0.050
    assert last < first * 2 + 0.001
