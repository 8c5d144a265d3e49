"""Fixtures for executor tests: a recording stand-in scheduler and a job factory.

The executors only need two things from a scheduler (``_create_lock`` and
``_dispatch_event``) and a handful of attributes from a job, so the tests use small
stand-ins and stay independent of the scheduler core.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import pytest

from nbsched.events import JobExecutionEvent


class RecordingScheduler:
    """Collects dispatched events and lets a test wait for a number of them."""

    def __init__(self, eventloop: Any = None) -> None:
        self.events: list[JobExecutionEvent] = []
        self._cond = threading.Condition()
        self._eventloop = eventloop

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


@dataclass
class StandInJob:
    id: str
    func: Callable[..., Any]
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    misfire_grace_time: float | None = None
    max_instances: int = 1
    _jobstore_alias: str | None = "default"

    def __str__(self) -> str:
        return f"{self.id} (stand-in)"


@pytest.fixture
def scheduler() -> RecordingScheduler:
    return RecordingScheduler()


@pytest.fixture(scope="session")
def recording_scheduler() -> type[RecordingScheduler]:
    """The class itself, for tests that need to pass an event loop."""
    return RecordingScheduler


@pytest.fixture
def make_job() -> Callable[..., StandInJob]:
    def factory(job_id: str, func: Callable[..., Any], *args: Any, **options: Any) -> StandInJob:
        kwargs = options.pop("kwargs", {})
        return StandInJob(job_id, func, args, kwargs, **options)

    return factory


@pytest.fixture
def now() -> datetime:
    return datetime.now(timezone.utc)
