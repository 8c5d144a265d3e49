"""The three front ends: where they run, whether start() blocks, and how they stop."""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime, timedelta, timezone

import pytest

UTC = timezone.utc


# --- BlockingScheduler -------------------------------------------------------------------------


def test_blocking_scheduler_runs_in_the_caller_until_a_job_shuts_it_down(make_scheduler, api):
    sched = make_scheduler("blocking")
    runs = []
    returned = threading.Event()
    errors = []

    def tick():
        runs.append(threading.current_thread().name)
        if len(runs) == 3:
            sched.shutdown(wait=False)

    def main():
        try:
            sched.start()  # blocks until the job shuts the scheduler down
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            returned.set()

    start = datetime.now(UTC) - timedelta(seconds=2.5)
    sched.add_job(tick, "interval", seconds=1, start_date=start, next_run_time=start,
                  coalesce=False, misfire_grace_time=None)
    thread = threading.Thread(target=main, name="blocking-main")
    thread.start()
    assert returned.wait(10), "start() did not return after shutdown"
    thread.join(10)
    assert errors == []
    assert len(runs) == 3
    assert "blocking-main" not in runs  # jobs ran in the executor's threads
    assert sched.state == api.STATE_STOPPED


def test_blocking_scheduler_start_blocks(make_scheduler, api):
    sched = make_scheduler("blocking")
    returned = threading.Event()
    thread = threading.Thread(target=lambda: (sched.start(), returned.set()))
    thread.start()
    try:
        assert not returned.wait(0.3)
        assert sched.state == api.STATE_RUNNING
    finally:
        sched.shutdown()
    assert returned.wait(10)
    thread.join(10)


# --- BackgroundScheduler -----------------------------------------------------------------------


def test_background_scheduler_start_returns_and_jobs_run_elsewhere(make_scheduler, recorder, api):
    sched = make_scheduler("background")
    sched.add_listener(recorder)
    where = []
    ran = threading.Event()

    def job():
        where.append(threading.current_thread())
        ran.set()

    sched.start()
    assert sched.state == api.STATE_RUNNING
    sched.add_job(job)
    assert ran.wait(10)
    assert where[0] is not threading.current_thread()
    recorder.wait(api.events.EVENT_JOB_REMOVED)  # the scheduler is done with the job
    sched.shutdown()
    assert sched.state == api.STATE_STOPPED


@pytest.mark.parametrize("daemon", [True, False])
def test_background_scheduler_thread_daemon_option(make_scheduler, daemon):
    before = set(threading.enumerate())
    sched = make_scheduler("background", daemon=daemon)
    sched.start()
    try:
        # The scheduler's own thread (pool workers, if any, are the executor's business).
        new = [
            t
            for t in threading.enumerate()
            if t not in before and not t.name.startswith("ThreadPoolExecutor")
        ]
        assert new, "no scheduler thread was started"
        assert all(t.daemon is daemon for t in new)
    finally:
        sched.shutdown()
    assert all(not t.is_alive() for t in new)


def test_background_scheduler_sleeps_until_the_next_run_time(make_scheduler, recorder, api):
    """A job added for a moment in the future runs then, without a wake-up from the API."""
    sched = make_scheduler("background")
    sched.add_listener(recorder)
    sched.start()
    when = datetime.now(UTC) + timedelta(seconds=0.4)
    sched.add_job(lambda: None, "date", run_date=when, id="soon")
    executed = recorder.wait(api.events.EVENT_JOB_EXECUTED, "soon")[0]
    assert executed.scheduled_run_time == when
    assert datetime.now(UTC) >= when


# --- AsyncIOScheduler --------------------------------------------------------------------------


async def _until(predicate, timeout=10.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.005)


def test_asyncio_scheduler_inside_a_running_loop(make_scheduler, api):
    sched = make_scheduler("asyncio")
    observed = {}

    async def coroutine_job(value):
        observed["loop"] = asyncio.get_running_loop()
        observed["thread"] = threading.current_thread()
        await asyncio.sleep(0)
        return value

    def plain_job():
        observed["plain_thread"] = threading.current_thread()

    async def main():
        loop = asyncio.get_running_loop()
        done = asyncio.Event()
        results = []

        def listener(event):
            results.append(event)
            if len(results) == 2:
                loop.call_soon_threadsafe(done.set)

        sched.add_listener(listener, api.events.EVENT_JOB_EXECUTED | api.events.EVENT_JOB_ERROR)
        sched.start()  # must return at once: we are inside the loop
        assert sched.state == api.STATE_RUNNING
        sched.add_job(coroutine_job, args=["done"], id="co")
        sched.add_job(plain_job, id="plain")
        await asyncio.wait_for(done.wait(), 10)
        sched.shutdown()
        await _until(lambda: not sched.running)
        return loop, threading.current_thread(), results

    loop, loop_thread, results = asyncio.run(main())
    assert {e.code for e in results} == {api.events.EVENT_JOB_EXECUTED}
    assert {e.job_id: e.retval for e in results}["co"] == "done"
    assert observed["loop"] is loop
    assert observed["thread"] is loop_thread
    assert observed["plain_thread"] is not loop_thread
    assert sched.state == api.STATE_STOPPED


def test_asyncio_scheduler_with_an_explicit_event_loop(make_scheduler, api):
    loop = asyncio.new_event_loop()
    try:
        sched = make_scheduler("asyncio", event_loop=loop)
        finished = loop.create_future()

        async def job():
            finished.set_result(asyncio.get_running_loop())

        sched.start()  # the loop is not running yet; start() must not block or run it
        assert not loop.is_running()
        sched.add_job(job)
        assert loop.run_until_complete(asyncio.wait_for(finished, 10)) is loop
        sched.shutdown()

        async def settle():
            await _until(lambda: not sched.running)

        loop.run_until_complete(settle())
        assert sched.state == api.STATE_STOPPED
    finally:
        loop.close()


def test_asyncio_scheduler_accepts_jobs_from_other_threads(make_scheduler, api):
    sched = make_scheduler("asyncio")

    async def main():
        loop = asyncio.get_running_loop()
        ran = asyncio.Event()
        sched.start()
        thread = threading.Thread(
            target=lambda: sched.add_job(lambda: loop.call_soon_threadsafe(ran.set))
        )
        thread.start()
        await asyncio.wait_for(ran.wait(), 10)
        thread.join(10)
        sched.shutdown()
        await _until(lambda: not sched.running)

    asyncio.run(main())


def test_asyncio_scheduler_default_executor(make_scheduler, api):
    sched = make_scheduler("asyncio")

    async def main():
        sched.start(paused=True)
        try:
            return sched._lookup_executor("default")
        finally:
            sched.shutdown()
            await _until(lambda: not sched.running)

    assert isinstance(asyncio.run(main()), api.AsyncIOExecutor)


def test_asyncio_scheduler_on_a_loop_running_in_another_thread(make_scheduler, api, wait_for):
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="loop-thread", daemon=True)
    thread.start()
    try:
        sched = make_scheduler("asyncio", event_loop=loop)
        where = []
        ran = threading.Event()

        async def job():
            where.append(threading.current_thread().name)
            ran.set()

        sched.start()  # from this thread; the scheduler works inside the loop's thread
        sched.add_job(job)
        assert ran.wait(10)
        assert where == ["loop-thread"]
        sched.shutdown()  # takes effect inside the loop
        wait_for(lambda: not sched.running)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def test_asyncio_scheduler_pause_and_resume(make_scheduler, api):
    sched = make_scheduler("asyncio")

    async def main():
        loop = asyncio.get_running_loop()
        ran = asyncio.Event()
        sched.start(paused=True)
        sched.add_job(lambda: loop.call_soon_threadsafe(ran.set))
        await asyncio.sleep(0.1)
        assert not ran.is_set()
        sched.resume()
        await asyncio.wait_for(ran.wait(), 10)
        sched.pause()
        assert sched.state == api.STATE_PAUSED
        sched.shutdown()
        await _until(lambda: not sched.running)

    asyncio.run(main())


def test_blocking_scheduler_started_paused_and_resumed_from_another_thread(
    make_scheduler, api, wait_for
):
    sched = make_scheduler("blocking")
    ran = threading.Event()
    sched.add_job(ran.set)
    thread = threading.Thread(target=lambda: sched.start(paused=True))
    thread.start()
    try:
        wait_for(lambda: sched.state == api.STATE_PAUSED)
        assert not ran.is_set()
        sched.resume()
        assert ran.wait(10)
    finally:
        sched.shutdown()
        thread.join(10)
    assert not thread.is_alive()

