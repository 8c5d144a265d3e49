"""AsyncIOScheduler: the core runs as callbacks on an asyncio event loop.

``start()`` never blocks: inside a running loop (a notebook cell, an ``async def main``) it
uses that loop; otherwise the loop given as ``event_loop``, or the thread's default loop
(which the caller then runs, as with APScheduler 3). Between rounds a single ``call_later``
timer waits for the next run time; ``wakeup()`` may be called from any thread.
"""

from __future__ import annotations

import asyncio
import threading
import warnings
from typing import Any

from nbsched.executors.base import BaseExecutor
from nbsched.job import ref_to_obj
from nbsched.schedulers import SchedulerAlreadyRunningError, SchedulerNotRunningError
from nbsched.schedulers.base import BaseScheduler

__all__ = ["AsyncIOScheduler"]


def _thread_default_loop() -> asyncio.AbstractEventLoop:
    """The loop ``asyncio.get_event_loop()`` gives outside a running loop (created if need be)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            loop = asyncio.get_event_loop_policy().get_event_loop()
        except RuntimeError:
            loop = None
    if loop is None or loop.is_closed():
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
    return loop


class AsyncIOScheduler(BaseScheduler):
    """A scheduler that runs on an asyncio event loop; coroutine jobs run as loop tasks.

    Extra option: ``event_loop`` — the loop to use (default: the running loop at ``start()``).
    The default executor is :class:`~nbsched.executors.asyncio.AsyncIOExecutor`.
    """

    # The core runs on the loop, where waiting out a read-ahead window would block it.
    _default_read_ahead = 0.0
    _eventloop: asyncio.AbstractEventLoop | None = None
    _given_loop: asyncio.AbstractEventLoop | None = None
    _timeout: asyncio.TimerHandle | None = None

    def _configure(self, config: dict[str, Any]) -> None:
        loop = config.pop("event_loop", None)
        if isinstance(loop, str):
            loop = ref_to_obj(loop)
        self._given_loop = self._eventloop = loop
        self._wakeup_lock = threading.Lock()
        self._wakeup_scheduled = False
        super()._configure(config)

    def start(self, paused: bool = False) -> None:
        if self.running:
            raise SchedulerAlreadyRunningError  # before touching the loop it runs on
        if self._eventloop is None or self._eventloop.is_closed():
            try:
                self._eventloop = asyncio.get_running_loop()
            except RuntimeError:
                self._eventloop = _thread_default_loop()
        try:
            super().start(paused)
        except BaseException:
            self._eventloop = self._given_loop
            raise

    def shutdown(self, wait: bool = True) -> None:
        if not self.running:
            raise SchedulerNotRunningError
        loop = self._eventloop
        if loop is None or loop.is_closed() or not loop.is_running() or self._on_loop(loop):
            self._shutdown_now(wait)
        else:
            loop.call_soon_threadsafe(self._shutdown_now, wait)

    def _shutdown_now(self, wait: bool) -> None:
        if not self.running:
            return
        super().shutdown(wait)
        self._stop_timer()
        self._eventloop = self._given_loop

    @staticmethod
    def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
        try:
            return asyncio.get_running_loop() is loop
        except RuntimeError:
            return False

    def wakeup(self) -> None:
        loop = self._eventloop
        if loop is None or loop.is_closed():
            return
        with self._wakeup_lock:
            if self._wakeup_scheduled:
                return  # one pending round covers any number of wake-ups
            self._wakeup_scheduled = True
        try:
            loop.call_soon_threadsafe(self._run_round)
        except RuntimeError:  # loop closed meanwhile
            self._wakeup_scheduled = False

    def _run_round(self) -> None:
        with self._wakeup_lock:
            self._wakeup_scheduled = False
        self._stop_timer()
        wait_seconds = self._process_jobs()
        self._start_timer(wait_seconds)

    def _start_timer(self, wait_seconds: float | None) -> None:
        self._stop_timer()
        if wait_seconds is not None and self._eventloop is not None and self.running:
            self._timeout = self._eventloop.call_later(wait_seconds, self.wakeup)

    def _stop_timer(self) -> None:
        timeout, self._timeout = self._timeout, None
        if timeout is not None:
            timeout.cancel()

    def _create_default_executor(self) -> BaseExecutor:
        from nbsched.executors.asyncio import AsyncIOExecutor

        return AsyncIOExecutor()
