"""Fixtures for executor tests: a recording stand-in scheduler and a job factory.

The executors only need two things from a scheduler (``_create_lock`` and
``_dispatch_event``), so the tests use a small stand-in scheduler and stay independent of
the scheduler core. Jobs are real :class:`nbsched.job.Job` objects (a one-shot date trigger,
attached to the ``"default"`` store unless told otherwise), so the executors are tested
with exactly what the scheduler hands them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import pytest

from nbsched.events import JobExecutionEvent
from nbsched.job import Job
from nbsched.triggers.date import DateTrigger


class RecordingScheduler:
    """Collects dispatched events and lets a test wait for a number of them."""

    def __init__(self, eventloop: Any = None) -> None:
        self.events: list[JobExecutionEvent] = []
        self._cond = threading.Condition()
        self._eventloop = eventloop
        self.timezone = timezone.utc

    def _create_lock(self) -> threading.RLock:
        return threading.RLock()

    def _dispatch_event(self, event: JobExecutionEvent) -> None:
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def wait_for_events(self, count: int, timeout: float = 30) -> list[JobExecutionEvent]:
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.events) >= count, timeout):
                raise AssertionError(f"expected {count} events, got {self.events!r}")
            return list(self.events)

    def by_job(self, job_id: str) -> list[JobExecutionEvent]:
        with self._cond:
            return [e for e in self.events if e.job_id == job_id]


@pytest.fixture
def scheduler() -> RecordingScheduler:
    return RecordingScheduler()


@pytest.fixture(scope="session")
def recording_scheduler() -> type[RecordingScheduler]:
    """The class itself, for tests that need to pass an event loop."""
    return RecordingScheduler


@pytest.fixture
def make_job(scheduler: RecordingScheduler) -> Callable[..., Job]:
    """``make_job(id, func, *args, kwargs={}, misfire_grace_time=None, max_instances=1,
    _jobstore_alias="default")``: a real Job as the scheduler would submit it."""

    def factory(job_id: str, func: Callable[..., Any], *args: Any, **options: Any) -> Job:
        alias = options.pop("_jobstore_alias", "default")
        options.setdefault("misfire_grace_time", None)
        options.setdefault("max_instances", 1)
        job = Job(
            scheduler,
            id=job_id,
            func=func,
            args=args,
            kwargs=options.pop("kwargs", {}),
            trigger=DateTrigger(run_date=datetime.now(timezone.utc)),
            executor="default",
            coalesce=True,
            **options,
        )
        job._jobstore_alias = alias
        return job

    return factory


@pytest.fixture
def now() -> datetime:
    return datetime.now(timezone.utc)
