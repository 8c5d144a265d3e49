"""An executor that runs jobs on the scheduler's asyncio event loop."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from nbsched.events import JobExecutionEvent
from nbsched.executors.base import (
    BaseExecutor,
    is_coroutine_callable,
    run_coroutine_job,
    run_job,
)

__all__ = ["AsyncIOExecutor"]

_AnyFuture = asyncio.Future | concurrent.futures.Future


class AsyncIOExecutor(BaseExecutor):
    """Run coroutine functions as tasks on the event loop; plain functions in its thread pool.

    The loop is the scheduler's ``_eventloop`` (set by the asyncio and notebook schedulers),
    or the loop running when the first job is submitted. Jobs may be submitted from any
    thread: in a notebook the scheduler's core runs in its own thread so that a busy cell
    cannot stall the schedule, while coroutine jobs still belong on the kernel's loop.

    ``shutdown(wait=True)`` called from outside the loop's thread waits for the runs in
    progress; called on the loop itself it cannot block without deadlocking the loop, so it
    cancels them, as APScheduler 3.11 always does.

    Plugin alias: ``asyncio``
    """

    def __init__(self) -> None:
        super().__init__()
        self._eventloop: asyncio.AbstractEventLoop | None = None
        self._pending_futures: set[_AnyFuture] = set()
        self._pending_lock = threading.Lock()

    def start(self, scheduler: Any, alias: str) -> None:
        super().start(scheduler, alias)
        self._eventloop = getattr(scheduler, "_eventloop", None)

    def _loop(self) -> asyncio.AbstractEventLoop:
        if self._eventloop is None:
            try:
                self._eventloop = asyncio.get_running_loop()
            except RuntimeError:
                raise RuntimeError(
                    "AsyncIOExecutor has no event loop: the scheduler has no _eventloop and "
                    "no loop is running in this thread"
                ) from None
        return self._eventloop

    @staticmethod
    def _on_loop_thread(loop: asyncio.AbstractEventLoop) -> bool:
        try:
            return asyncio.get_running_loop() is loop
        except RuntimeError:
            return False

    def _do_submit_job(self, job: Any, run_times: Sequence[datetime]) -> None:
        loop = self._loop()
        job_id, alias, logger_name = job.id, job._jobstore_alias, self._logger.name

        if is_coroutine_callable(job.func):
            coro = run_coroutine_job(job, alias, run_times, logger_name)
        else:
            coro = self._in_default_executor(loop, job, alias, list(run_times), logger_name)

        future: _AnyFuture
        try:
            if self._on_loop_thread(loop):
                future = loop.create_task(coro)
            else:
                future = asyncio.run_coroutine_threadsafe(coro, loop)
        except BaseException:
            coro.close()  # never scheduled (closed loop): avoid "never awaited" noise
            raise

        def done(finished: _AnyFuture) -> None:
            with self._pending_lock:
                self._pending_futures.discard(finished)
            if finished.cancelled():
                self._release(job_id)
                self._logger.info("Run of job %s was cancelled", job_id)
                return
            exc = finished.exception()
            if exc is not None:
                self._run_job_error(job_id, exc, exc.__traceback__)
            else:
                self._run_job_success(job_id, finished.result())

        with self._pending_lock:
            self._pending_futures.add(future)
        future.add_done_callback(done)

    @staticmethod
    async def _in_default_executor(
        loop: asyncio.AbstractEventLoop,
        job: Any,
        alias: str | None,
        run_times: list[datetime],
        logger_name: str,
    ) -> list[JobExecutionEvent]:
        return await loop.run_in_executor(None, run_job, job, alias, run_times, logger_name)

    def shutdown(self, wait: bool = True) -> None:
        with self._pending_lock:
            pending = list(self._pending_futures)
        if not pending:
            return
        loop = self._eventloop
        can_wait = (
            wait and loop is not None and loop.is_running() and not self._on_loop_thread(loop)
        )
        if can_wait:
            asyncio.run_coroutine_threadsafe(self._wait_for(pending), loop).result()
            return
        on_loop = loop is not None and self._on_loop_thread(loop)
        for future in pending:
            if isinstance(future, asyncio.Future) and not on_loop and not loop.is_closed():
                loop.call_soon_threadsafe(future.cancel)
            else:
                future.cancel()

    @staticmethod
    async def _wait_for(pending: list[_AnyFuture]) -> None:
        wrapped = [
            asyncio.wrap_future(f) if isinstance(f, concurrent.futures.Future) else f
            for f in pending
        ]
        await asyncio.wait(wrapped)
