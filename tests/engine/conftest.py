"""Fixtures for the engine suite: one set of tests for nbsched and for APScheduler 3.11.

Every test reaches the library under test through the ``api`` fixture (``api.BackgroundScheduler``,
``api.events.EVENT_JOB_ADDED`` ...), which imports ``<prefix>.<module>`` lazily. The prefix is
``nbsched`` unless ``NBSCHED_ENGINE_REFERENCE=apscheduler`` is set, which re-runs the whole suite
against APScheduler to prove the tests themselves describe APScheduler's behaviour. Features
APScheduler lacks are marked ``nbsched_only`` and skipped in the reference run.

Waiting is always on a condition (``wait_for``, ``EventRecorder.wait``) with a timeout, never on
a bare sleep, so the suite is both fast and robust on a loaded machine.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest

#: Library whose engine the suite runs against.
PREFIX = os.environ.get("NBSCHED_ENGINE_REFERENCE", "nbsched").strip() or "nbsched"
#: Generous upper bound for anything that should happen "promptly".
TIMEOUT = 10.0

# Public name -> module (relative to the prefix) that defines it, in both libraries.
_LOCATIONS = {
    "BaseScheduler": "schedulers.base",
    "STATE_STOPPED": "schedulers.base",
    "STATE_RUNNING": "schedulers.base",
    "STATE_PAUSED": "schedulers.base",
    "BlockingScheduler": "schedulers.blocking",
    "BackgroundScheduler": "schedulers.background",
    "AsyncIOScheduler": "schedulers.asyncio",
    "SchedulerAlreadyRunningError": "schedulers",
    "SchedulerNotRunningError": "schedulers",
    "Job": "job",
    "BaseJobStore": "jobstores.base",
    "JobLookupError": "jobstores.base",
    "ConflictingIdError": "jobstores.base",
    "MemoryJobStore": "jobstores.memory",
    "BaseTrigger": "triggers.base",
    "DateTrigger": "triggers.date",
    "IntervalTrigger": "triggers.interval",
    "CronTrigger": "triggers.cron",
    "BaseExecutor": "executors.base",
    "MaxInstancesReachedError": "executors.base",
    "DebugExecutor": "executors.debug",
    "ThreadPoolExecutor": "executors.pool",
    "AsyncIOExecutor": "executors.asyncio",
}


class Api:
    """Lazy access to one library's public names, so a missing module fails only its tests."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def module(self, name: str) -> ModuleType:
        return importlib.import_module(f"{self.prefix}.{name}")

    @property
    def events(self) -> ModuleType:
        return self.module("events")

    def __getattr__(self, name: str) -> Any:
        try:
            location = _LOCATIONS[name]
        except KeyError:
            raise AttributeError(name) from None
        return getattr(self.module(location), name)

    def ref(self, name: str) -> str:
        """Textual ``module:name`` reference to a public class of this library."""
        return f"{self.prefix}.{_LOCATIONS[name]}:{name}"

    @property
    def scheduler_logger(self) -> str:
        return f"{self.prefix}.scheduler"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "nbsched_only: nbsched feature APScheduler lacks; skipped in the reference run"
    )


def pytest_runtest_setup(item: pytest.Item) -> None:
    if PREFIX != "nbsched" and item.get_closest_marker("nbsched_only"):
        pytest.skip(f"nbsched-only feature (engine suite runs against {PREFIX})")


def pytest_report_header(config: pytest.Config) -> str:
    return f"engine suite runs against: {PREFIX}"


@pytest.fixture(scope="session")
def lib() -> Iterator[str]:
    """The import prefix of the library under test (``nbsched`` or ``apscheduler``)."""
    yield PREFIX


@pytest.fixture(scope="session")
def api(lib: str) -> Api:
    return Api(lib)


def _wait_for(
    predicate: Callable[[], Any], timeout: float = TIMEOUT, interval: float = 0.005
) -> Any:
    """Return the first truthy value of ``predicate()``; fail the test after ``timeout`` s.

    For state that nothing signals (a store's content, a scheduler's state); anything that
    publishes an event is awaited through :class:`EventRecorder` instead.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s: {predicate}")
        time.sleep(interval)


class EventRecorder:
    """A scheduler listener that keeps every event and lets tests wait on them."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self.threads: list[str] = []
        self._cond = threading.Condition()

    def __call__(self, event: Any) -> None:
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def matching(self, code: int | None = None, job_id: str | None = None) -> list[Any]:
        with self._cond:
            return [
                e
                for e in self.events
                if (code is None or e.code & code)
                and (job_id is None or getattr(e, "job_id", None) == job_id)
            ]

    def codes(self, job_id: str | None = None) -> list[int]:
        return [e.code for e in self.matching(job_id=job_id)]

    def wait(
        self, code: int, job_id: str | None = None, count: int = 1, timeout: float = TIMEOUT
    ) -> list[Any]:
        """Wait until ``count`` events matching ``code`` (a mask) and ``job_id`` arrived."""

        def enough() -> bool:
            return len(self.matching(code, job_id)) >= count

        with self._cond:
            if not self._cond.wait_for(enough, timeout):
                raise AssertionError(
                    f"expected {count} event(s) {code:#x} for job {job_id!r}; got "
                    f"{[(e.code, getattr(e, 'job_id', None)) for e in self.events]}"
                )
        return self.matching(code, job_id)

    def clear(self) -> None:
        with self._cond:
            self.events.clear()


@pytest.fixture(scope="session")
def wait_for() -> Callable[..., Any]:
    """``wait_for(predicate, timeout=10)``: poll un-signalled state until it holds."""
    return _wait_for


@pytest.fixture
def recorder() -> EventRecorder:
    return EventRecorder()


@pytest.fixture(scope="session")
def make_recorder() -> type[EventRecorder]:
    return EventRecorder


@pytest.fixture
def make_scheduler(api: Api) -> Iterator[Callable[..., Any]]:
    """Build schedulers (``kind`` = background/blocking/asyncio) that are shut down afterwards."""
    created: list[tuple[str, Any]] = []

    def factory(kind: str = "background", *args: Any, **options: Any) -> Any:
        cls = {
            "background": "BackgroundScheduler",
            "blocking": "BlockingScheduler",
            "asyncio": "AsyncIOScheduler",
        }[kind]
        if not args:
            options.setdefault("timezone", "UTC")
        scheduler = getattr(api, cls)(*args, **options)
        created.append((kind, scheduler))
        return scheduler

    yield factory
    for kind, scheduler in created:
        # Asyncio schedulers are shut down by their tests, inside their loop.
        if kind != "asyncio" and scheduler.running:
            try:
                # Pause, then let any round of job processing in progress finish (it holds
                # the store lock): APScheduler fails to remove a finished job when shut down
                # half-way through such a round.
                scheduler.pause()
                with scheduler._jobstores_lock:
                    pass
                scheduler.shutdown(wait=False)
            except Exception:  # pragma: no cover - best-effort cleanup
                pass


@pytest.fixture
def scheduler(make_scheduler: Callable[..., Any], recorder: EventRecorder) -> Any:
    """A stopped BackgroundScheduler in UTC with a recorder attached for all events."""
    sched = make_scheduler()
    sched.add_listener(recorder)
    return sched


@pytest.fixture
def paused(scheduler: Any) -> Any:
    """The ``scheduler`` fixture started paused: stores work, nothing runs."""
    scheduler.start(paused=True)
    return scheduler


@pytest.fixture
def running(scheduler: Any) -> Any:
    scheduler.start()
    return scheduler


@pytest.fixture
def error_logs(caplog: pytest.LogCaptureFixture) -> Callable[[], list[logging.LogRecord]]:
    """Records logged at ERROR or above while the test ran."""
    caplog.set_level(logging.INFO)
    return lambda: [r for r in caplog.records if r.levelno >= logging.ERROR]
