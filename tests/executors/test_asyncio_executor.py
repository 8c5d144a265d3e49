"""AsyncIOExecutor: coroutine jobs on the loop, plain jobs in its executor, any-thread submits."""

from __future__ import annotations

import asyncio
import functools
import threading

import pytest

from nbsched.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED
from nbsched.executors.asyncio import AsyncIOExecutor
from nbsched.executors.base import MaxInstancesReachedError, is_coroutine_callable


class AsyncEvents:
    """Stand-in scheduler living on a loop: lets a coroutine await a number of events."""

    def __init__(self, loop):
        self._eventloop = loop
        self.events = []
        self._changed = asyncio.Condition()

    def _create_lock(self):
        return threading.RLock()

    def _dispatch_event(self, event):
        self.events.append(event)
        self._eventloop.call_soon_threadsafe(self._notify)

    def _notify(self):
        async def notify():
            async with self._changed:
                self._changed.notify_all()

        self._eventloop.create_task(notify())

    async def wait_for(self, count, timeout=10):
        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(lambda: len(self.events) >= count), timeout
            )
        return self.events


async def add(a, b):
    await asyncio.sleep(0)
    return a + b


async def async_fail():
    await asyncio.sleep(0)
    raise LookupError("nothing here")


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


def started(loop):
    scheduler = AsyncEvents(loop)
    executor = AsyncIOExecutor()
    executor.start(scheduler, "asyncio")
    return scheduler, executor


def test_coroutine_runs_on_the_loop_thread_and_plain_function_off_it(make_job, now):
    async def main():
        loop = asyncio.get_running_loop()
        scheduler, executor = started(loop)
        loop_thread = threading.current_thread().name

        async def where():
            return threading.current_thread().name

        executor.submit_job(make_job("coro", where), [now])
        executor.submit_job(make_job("plain", lambda: threading.current_thread().name), [now])
        events = {e.job_id: e for e in await scheduler.wait_for(2)}
        assert events["coro"].retval == loop_thread
        assert events["plain"].code == EVENT_JOB_EXECUTED
        assert events["plain"].retval != loop_thread
        assert executor._instances == {}

    run(main())


def test_coroutine_results_and_errors(make_job, now):
    async def main():
        scheduler, executor = started(asyncio.get_running_loop())
        executor.submit_job(make_job("add", add, 2, 3), [now])
        executor.submit_job(make_job("fail", async_fail), [now])
        executor.submit_job(make_job("partial", functools.partial(add, 10), 1), [now])
        events = {e.job_id: e for e in await scheduler.wait_for(3)}
        assert events["add"].retval == 5
        assert events["partial"].retval == 11
        failed = events["fail"]
        assert failed.code == EVENT_JOB_ERROR
        assert isinstance(failed.exception, LookupError)
        assert "in async_fail" in failed.traceback
        assert failed.start_time <= failed.end_time

    run(main())


def test_instances_counted_across_coroutine_and_plain_runs(make_job, now):
    async def main():
        scheduler, executor = started(asyncio.get_running_loop())
        gate = asyncio.Event()
        thread_gate = threading.Event()

        async def waits():
            await gate.wait()
            return "coro done"

        def blocks():
            thread_gate.wait(timeout=10)
            return "plain done"

        coro_job = make_job("shared", waits, max_instances=2)
        plain_job = make_job("shared", blocks, max_instances=2)
        executor.submit_job(coro_job, [now])
        executor.submit_job(plain_job, [now])
        with pytest.raises(MaxInstancesReachedError):
            executor.submit_job(coro_job, [now])
        gate.set()
        thread_gate.set()
        events = await scheduler.wait_for(2)
        assert sorted(e.retval for e in events) == ["coro done", "plain done"]
        assert executor._instances == {}

    run(main())


def test_submit_from_another_thread(make_job, now):
    async def main():
        loop = asyncio.get_running_loop()
        scheduler, executor = started(loop)
        errors = []

        def submit():
            try:
                executor.submit_job(make_job("coro", add, 1, 1), [now])
                executor.submit_job(make_job("plain", lambda: "p"), [now])
            except Exception as exc:  # surfaced below
                errors.append(exc)

        await loop.run_in_executor(None, submit)
        events = {e.job_id: e.retval for e in await scheduler.wait_for(2)}
        assert errors == []
        assert events == {"coro": 2, "plain": "p"}

    run(main())


def test_shutdown_on_the_loop_cancels_running_coroutines(make_job, now):
    async def main():
        scheduler, executor = started(asyncio.get_running_loop())
        entered = asyncio.Event()

        async def forever():
            entered.set()
            await asyncio.Event().wait()

        executor.submit_job(make_job("forever", forever), [now])
        await entered.wait()
        executor.shutdown(wait=True)  # on the loop: cannot block, so it cancels
        for _ in range(3):
            await asyncio.sleep(0)
        assert executor._instances == {}
        assert executor._pending_futures == set()
        assert scheduler.events == []

    run(main())


def test_shutdown_wait_from_another_thread_waits_for_runs(make_job, now):
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        scheduler = AsyncEvents(loop)
        executor = AsyncIOExecutor()
        executor.start(scheduler, "asyncio")
        release = threading.Event()

        async def slow():
            await asyncio.get_running_loop().run_in_executor(None, release.wait, 10)
            return "finished"

        executor.submit_job(make_job("slow", slow), [now])
        threading.Timer(0.05, release.set).start()
        executor.shutdown(wait=True)
        assert [e.retval for e in scheduler.events] == ["finished"]
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def test_without_a_loop_submission_is_a_clear_error(make_job, now, scheduler):
    executor = AsyncIOExecutor()
    executor.start(scheduler, "asyncio")  # the recording scheduler has no loop
    with pytest.raises(RuntimeError, match="AsyncIOExecutor has no event loop"):
        executor.submit_job(make_job("x", add, 1, 2), [now])
    assert executor._instances == {}


def test_coroutine_detection():
    class AsyncCallable:
        async def __call__(self):
            return 1

    class SyncCallable:
        def __call__(self):
            return 1

    assert is_coroutine_callable(add)
    assert is_coroutine_callable(functools.partial(add, 1))
    assert is_coroutine_callable(AsyncCallable())
    assert not is_coroutine_callable(SyncCallable())
    assert not is_coroutine_callable(len)
    assert not is_coroutine_callable(lambda: None)


def test_closed_loop_refuses_submission_and_frees_instance(make_job, now, recording_scheduler):
    loop = asyncio.new_event_loop()
    loop.close()
    executor = AsyncIOExecutor()
    executor.start(recording_scheduler(eventloop=loop), "asyncio")
    with pytest.raises(RuntimeError):
        executor.submit_job(make_job("x", add, 1, 2), [now])
    assert executor._instances == {}
