"""A call that raises changes nothing: start() on a running scheduler, a start() whose store
cannot start, adding an executor or store that cannot start, a shutdown step that fails."""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime, timedelta, timezone

import pytest

from nbsched.executors.pool import ThreadPoolExecutor
from nbsched.jobstores.base import ConflictingIdError
from nbsched.jobstores.memory import MemoryJobStore
from nbsched.schedulers import SchedulerAlreadyRunningError
from nbsched.schedulers.asyncio import AsyncIOScheduler
from nbsched.schedulers.background import BackgroundScheduler
from nbsched.schedulers.base import STATE_STOPPED

UTC = timezone.utc


def _shutdown_within(scheduler, seconds: float = 10) -> bool:
    worker = threading.Thread(target=scheduler.shutdown, daemon=True)
    worker.start()
    worker.join(seconds)
    return not worker.is_alive()


class _BrokenStore(MemoryJobStore):
    def start(self, scheduler, alias):
        raise ConnectionError("store unreachable")


class _BrokenExecutor(ThreadPoolExecutor):
    def start(self, scheduler, alias):
        raise RuntimeError("cannot start")


class _FailingShutdownExecutor(ThreadPoolExecutor):
    def shutdown(self, wait=True):
        super().shutdown(wait)
        raise RuntimeError("shutdown failed")


@pytest.mark.parametrize("round_", range(10))
def test_start_on_a_running_background_scheduler_then_shutdown_returns(round_: int) -> None:
    # The reported sequence: the wake-up event happens to be set when start() is called
    # again; replacing it left the loop waiting on the old one and shutdown() hung.
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.start(paused=True)
    scheduler.add_job(print, "date", run_date=datetime.now(UTC) + timedelta(hours=1))
    scheduler.resume()
    scheduler.pause()
    scheduler.resume()
    scheduler.remove_all_jobs()
    event = scheduler._event
    with pytest.raises(SchedulerAlreadyRunningError):
        scheduler.start()
    assert scheduler._event is event
    assert _shutdown_within(scheduler)
    assert scheduler.state == STATE_STOPPED


def test_start_on_a_running_asyncio_scheduler_keeps_its_loop() -> None:
    async def main() -> None:
        scheduler = AsyncIOScheduler(timezone="UTC")
        scheduler.start()
        loop = scheduler._eventloop
        with pytest.raises(SchedulerAlreadyRunningError):
            scheduler.start()
        assert scheduler._eventloop is loop
        scheduler.shutdown()

    asyncio.run(main())


def test_failed_start_changes_nothing_and_can_be_retried() -> None:
    broken = _BrokenStore()
    scheduler = BackgroundScheduler(timezone="UTC", jobstores={"default": broken})
    scheduler.add_job(print, "interval", minutes=5, id="pending")
    with pytest.raises(ConnectionError):
        scheduler.start()
    assert scheduler.state == STATE_STOPPED
    assert [job.id for job in scheduler.get_jobs()] == ["pending"]  # still pending
    assert scheduler._thread is None
    # The default executor it created was shut down again and forgotten.
    assert "default" not in scheduler._executors
    scheduler.remove_jobstore("default", shutdown=False)
    scheduler.add_jobstore(MemoryJobStore(), "default")
    scheduler.start(paused=True)
    try:
        assert [job.id for job in scheduler.get_jobs()] == ["pending"]
    finally:
        assert _shutdown_within(scheduler)


def test_conflicting_pending_ids_fail_start_before_anything_is_stored() -> None:
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.add_job(print, "interval", minutes=5, id="twice")
    scheduler.add_job(print, "interval", minutes=6, id="twice")
    with pytest.raises(ConflictingIdError):
        scheduler.start()
    assert scheduler.state == STATE_STOPPED
    assert [job.id for job in scheduler.get_jobs()] == ["twice", "twice"]
    scheduler.remove_job("twice")
    scheduler.start(paused=True)
    try:
        assert [job.trigger.interval for job in scheduler.get_jobs()] == [timedelta(minutes=6)]
    finally:
        assert _shutdown_within(scheduler)


def test_adding_an_executor_or_store_that_cannot_start_adds_nothing() -> None:
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.start(paused=True)
    try:
        with pytest.raises(RuntimeError):
            scheduler.add_executor(_BrokenExecutor(), "broken")
        assert "broken" not in scheduler._executors
        with pytest.raises(ConnectionError):
            scheduler.add_jobstore(_BrokenStore(), "broken")
        assert "broken" not in scheduler._jobstores
        scheduler.add_executor(ThreadPoolExecutor(), "broken")  # the alias is still free
    finally:
        assert _shutdown_within(scheduler)


def test_a_failing_executor_shutdown_still_stops_the_loop_and_the_stores() -> None:
    store = MemoryJobStore()
    scheduler = BackgroundScheduler(
        timezone="UTC", executors={"default": _FailingShutdownExecutor()},
        jobstores={"default": store},
    )
    scheduler.start()
    scheduler.add_job(print, "interval", minutes=5)
    assert _shutdown_within(scheduler)
    assert scheduler.state == STATE_STOPPED
    assert scheduler._thread is None
    assert store.get_all_jobs() == []  # the store was shut down too (memory: emptied)
