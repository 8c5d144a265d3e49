"""Fixtures for the panel/builder widget tests: a real scheduler with a memory store.

No browser and no kernel here: ipywidgets 8 widgets work without a front end (their comm is a
no-op), so these tests read and drive widget state directly — click buttons with
``Button.click()``, set values, call ``panel.tick()`` instead of waiting for the timer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from nbsched.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED
from nbsched.jobstores.memory import MemoryJobStore
from nbsched.schedulers.background import BackgroundScheduler


class RunWaiter:
    """Counts finished runs per job so a test can wait for one without sleeping."""

    def __init__(self, scheduler: BackgroundScheduler) -> None:
        self._cond = threading.Condition()
        self.finished: dict[str, int] = {}
        scheduler.add_listener(self._on_event,
                               EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED)

    def _on_event(self, event) -> None:
        with self._cond:
            self.finished[event.job_id] = self.finished.get(event.job_id, 0) + 1
            self._cond.notify_all()

    def wait(self, job_id: str, count: int = 1, timeout: float = 10) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: self.finished.get(job_id, 0) >= count, timeout):
                raise AssertionError(f"job {job_id!r} did not finish {count} run(s) in {timeout} s")


@pytest.fixture
def scheduler() -> Iterator[BackgroundScheduler]:
    sched = BackgroundScheduler(jobstores={"default": MemoryJobStore()}, timezone="UTC")
    sched.start()
    yield sched
    if sched.running:
        sched.shutdown(wait=True)


@pytest.fixture
def runs(scheduler) -> RunWaiter:
    return RunWaiter(scheduler)


def _wait_until(condition: Callable[[], bool], timeout: float = 10,
                what: str | Callable[[], str] = "condition"):
    """Poll ``condition`` (for state with no event to wait on: another process's file)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what() if callable(what) else what}")
        time.sleep(0.02)


@pytest.fixture
def wait_until():
    return _wait_until


@pytest.fixture
def panels() -> Iterator[list]:
    """Collects panels made by a test and closes them at teardown (timers stop)."""
    made: list = []
    yield made
    for item in made:
        item.close()
