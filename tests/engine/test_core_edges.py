"""Edge cases of the scheduler core found in review: a pause between reading a job ahead and
firing it, overlapping rounds, and a store that refuses to record the next run time."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from nbsched.events import EVENT_JOB_EXECUTED
from nbsched.jobstores.sqlalchemy import SQLAlchemyJobStore
from nbsched.schedulers.background import BackgroundScheduler
from nbsched.schedulers.base import STATE_RUNNING

UTC = timezone.utc


def test_job_paused_after_read_ahead_but_before_firing_does_not_run() -> None:
    ran: list[int] = []
    scheduler = BackgroundScheduler(timezone="UTC", read_ahead=0.5)
    scheduler.start(paused=True)
    try:
        scheduler.add_job(
            ran.append, "interval", seconds=5, args=(1,), id="j",
            next_run_time=datetime.now(UTC) + timedelta(seconds=0.2),
        )
        original = scheduler._fire_read_ahead

        def pause_first(ready, round_):
            # Another thread pauses the job after the store pass released the lock (while the
            # core asks the stores for their next run times) and before the runs are fired.
            # (The scheduler's own thread may run a round at the same time: every round goes
            # through this hook, so the job is paused before any round can fire it.)
            worker = threading.Thread(target=scheduler.pause_job, args=("j",))
            worker.start()
            worker.join()
            return original(ready, round_)

        scheduler._fire_read_ahead = pause_first
        scheduler.state = STATE_RUNNING  # drive one round by hand, no wake-up thread race
        scheduler._process_jobs()
        assert ran == []
        assert scheduler.get_job("j").next_run_time is None
    finally:
        scheduler.shutdown(wait=False)


def test_store_refusing_writes_postpones_runs_instead_of_spinning(tmp_path: Path) -> None:
    store = SQLAlchemyJobStore(url=f"sqlite:///{tmp_path / 'ro.sqlite'}")
    scheduler = BackgroundScheduler(timezone="UTC", jobstores={"default": store}, read_ahead=0)
    runs: list[object] = []
    scheduler.add_listener(runs.append, EVENT_JOB_EXECUTED)
    scheduler.start(paused=True)
    try:
        scheduler.add_job("os:getpid", "interval", seconds=60, id="due",
                          next_run_time=datetime.now(UTC) - timedelta(seconds=1))
        attempts: list[str] = []

        def refuse(job):
            attempts.append(job.id)
            raise OSError("attempt to write a readonly database")

        store.update_job = refuse
        scheduler.state = STATE_RUNNING
        wait = scheduler._process_jobs()
        # Not run (its successor could not be recorded), and the next look is a retry later,
        # not an immediate round that would hand back the same fire time forever.
        assert runs == [] and attempts == ["due"]
        assert wait is not None and wait >= scheduler.jobstore_retry_interval - 1
    finally:
        scheduler.shutdown(wait=False)


def test_memory_store_is_emptied_by_shutdown() -> None:
    # As APScheduler 3.11.3 (checked by running it): the scheduler's shutdown() shuts its
    # stores down and MemoryJobStore.shutdown() drops the jobs; a restart starts empty.
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.add_job("os:getpid", "interval", minutes=5, id="kept")
    scheduler.start(paused=True)
    assert [job.id for job in scheduler.get_jobs()] == ["kept"]
    scheduler.shutdown()
    assert scheduler.get_jobs() == []
    scheduler.start(paused=True)
    try:
        assert scheduler.get_jobs() == []
    finally:
        scheduler.shutdown()


def test_overlapping_rounds_keep_each_others_cancellations() -> None:
    """Round A reads a run ahead; round B starts and ends while A waits; a cancellation made
    after that must still reach A (the rounds' read-ahead state was once shared and reset)."""
    ran: list[int] = []
    scheduler = BackgroundScheduler(timezone="UTC", read_ahead=0.5)
    scheduler.start(paused=True)
    try:
        scheduler.add_job(
            ran.append, "interval", seconds=30, args=(1,), id="j",
            next_run_time=datetime.now(UTC) + timedelta(seconds=0.3),
        )
        original = scheduler._fire_read_ahead
        a_read_ahead = threading.Event()
        b_done = threading.Event()
        calls: list[int] = []

        def hook(ready, round_):
            calls.append(len(ready))
            if ready:  # round A: it holds the read-ahead run
                a_read_ahead.set()
                assert b_done.wait(10)
                scheduler.remove_job("j")
            return original(ready, round_)

        scheduler._fire_read_ahead = hook
        scheduler.state = STATE_RUNNING
        round_a = threading.Thread(target=scheduler._process_jobs)
        round_a.start()
        assert a_read_ahead.wait(10)
        scheduler._process_jobs()  # round B: finds nothing due (the job was advanced by A)
        b_done.set()
        round_a.join(10)
        assert not round_a.is_alive()
        assert ran == []
        assert scheduler.get_jobs() == []
        assert scheduler._read_ahead_rounds == ()
    finally:
        scheduler.shutdown(wait=False)


@pytest.mark.parametrize("trigger", ["interval", "cron"])
def test_fall_back_night_fire_times_are_compared_as_instants(trigger: str) -> None:
    """01:00 EST comes 30 minutes *after* 01:30 EDT; compared by wall clock (same tzinfo) it
    looked due already, so the core caught up two fire times early and skipped ahead."""
    from zoneinfo import ZoneInfo

    from nbsched.executors.debug import DebugExecutor

    eastern = ZoneInfo("America/New_York")
    runs: list[datetime] = []
    scheduler = BackgroundScheduler(
        timezone=eastern, executors={"default": DebugExecutor()}, read_ahead=0,
        job_defaults={"coalesce": False, "misfire_grace_time": None},
    )
    scheduler.add_listener(lambda event: runs.append(event.scheduled_run_time), EVENT_JOB_EXECUTED)
    scheduler.start(paused=True)
    try:
        first = datetime(2013, 11, 3, 1, 30, tzinfo=eastern)  # EDT (fold=0)
        options = {"minutes": 30} if trigger == "interval" else {"minute": "*/30"}
        scheduler.add_job(
            "os:getpid", trigger, id="half-hourly", next_run_time=first,
            start_date=datetime(2013, 11, 3, 0, 30, tzinfo=eastern), **options,
        )
        scheduler._current_time = lambda: first + timedelta(milliseconds=1)
        scheduler.state = STATE_RUNNING
        scheduler._process_jobs()
        assert runs == [first]
        following = scheduler.get_job("half-hourly").next_run_time
        assert following.timestamp() - first.timestamp() == 1800  # 01:00 EST, not 02:00 EST
        assert following.utcoffset() == timedelta(hours=-5)
    finally:
        scheduler.shutdown(wait=False)
