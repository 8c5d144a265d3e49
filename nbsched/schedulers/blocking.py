"""BlockingScheduler: the core runs in the thread that calls ``start()``, which blocks."""

from __future__ import annotations

import threading
from threading import TIMEOUT_MAX

from nbsched.schedulers import SchedulerAlreadyRunningError
from nbsched.schedulers.base import STATE_STOPPED, BaseScheduler

__all__ = ["BlockingScheduler"]


class BlockingScheduler(BaseScheduler):
    """A scheduler that runs in the foreground: ``start()`` returns only after ``shutdown()``.

    Between rounds it sleeps on a :class:`threading.Event` until the next run time is due or
    ``wakeup()`` sets the event (a job was added or changed) — it never polls.
    """

    _event: threading.Event | None = None

    def start(self, paused: bool = False) -> None:
        self._prepare_event()
        super().start(paused)
        self._main_loop()

    def _prepare_event(self) -> None:
        """A fresh wake-up event for a new loop -- only on a stopped scheduler: replacing it
        under a running loop (then raising SchedulerAlreadyRunningError) would leave that
        loop waiting on an event nobody sets, and shutdown() would hang."""
        if self.state != STATE_STOPPED:
            raise SchedulerAlreadyRunningError
        if self._event is None or self._event.is_set():
            self._event = threading.Event()

    def shutdown(self, wait: bool = True) -> None:
        try:
            super().shutdown(wait)
        finally:
            if self._event is not None:
                self._event.set()

    def _main_loop(self) -> None:
        event = self._event
        assert event is not None
        wait_seconds: float | None = TIMEOUT_MAX
        while self.state != STATE_STOPPED:
            event.wait(wait_seconds)
            event.clear()
            if self.state == STATE_STOPPED:
                break
            wait_seconds = self._process_jobs()

    def wakeup(self) -> None:
        event = self._event
        if event is not None:
            event.set()
