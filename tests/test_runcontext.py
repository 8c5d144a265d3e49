"""current_run(): set around the user's call by every executor, invisible everywhere else."""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime, timezone

import pytest

from nbsched.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED
from nbsched.executors.asyncio import AsyncIOExecutor
from nbsched.executors.base import run_coroutine_job, run_job
from nbsched.executors.debug import DebugExecutor
from nbsched.executors.pool import ProcessPoolExecutor, ThreadPoolExecutor
from nbsched.runcontext import RunContext, current_run, reset_run, run_context, set_run
from nbsched.schedulers.background import BackgroundScheduler

UTC = timezone.utc


def report_run() -> RunContext | None:
    return current_run()


def raise_in_run() -> None:
    raise ValueError(f"failing in {current_run()!r}")


async def report_run_async() -> RunContext | None:
    await asyncio.sleep(0)
    return current_run()


class _Job:
    def __init__(self, func, job_id: str = "j") -> None:
        self.id = job_id
        self.func = func
        self.args = ()
        self.kwargs = {}
        self.misfire_grace_time = None

    def __str__(self) -> str:
        return self.id


def test_no_run_outside_jobs_and_context_manager_restores() -> None:
    assert current_run() is None
    when = datetime(2026, 1, 1, tzinfo=UTC)
    with run_context("a", "default", when) as outer:
        assert current_run() == RunContext("a", "default", when) == outer
        with run_context("b", None, when):
            assert current_run().job_id == "b"
        assert current_run() is outer
    assert current_run() is None


def test_set_run_checks_its_argument() -> None:
    with pytest.raises(TypeError, match="run: expected a RunContext or None, got 'x'"):
        set_run("x")  # type: ignore[arg-type]
    token = set_run(None)
    reset_run(token)


def test_run_job_sets_the_context_only_around_the_call() -> None:
    when = datetime(2026, 1, 1, tzinfo=UTC)
    [event] = run_job(_Job(report_run), "store", [when], "test")
    assert event.code == EVENT_JOB_EXECUTED
    assert event.retval == RunContext("j", "store", when)
    [error] = run_job(_Job(raise_in_run), "store", [when], "test")
    assert error.code == EVENT_JOB_ERROR and "RunContext(job_id='j'" in str(error.exception)
    assert current_run() is None  # reset after success and after failure


def test_keyboard_interrupt_still_resets_the_context() -> None:
    def interrupt() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_job(_Job(interrupt), None, [datetime.now(UTC)], "test")
    assert current_run() is None


def test_coroutine_jobs_see_their_run_and_the_loop_does_not() -> None:
    when = datetime(2026, 1, 1, tzinfo=UTC)

    async def main() -> tuple:
        task = asyncio.ensure_future(
            run_coroutine_job(_Job(report_run_async), None, [when], "test")
        )
        seen_meanwhile = []
        while not task.done():
            seen_meanwhile.append(current_run())
            await asyncio.sleep(0)
        return (await task), seen_meanwhile

    [event], seen = asyncio.run(main())
    assert event.retval == RunContext("j", None, when)
    assert seen and all(run is None for run in seen)


@pytest.mark.parametrize(
    "executor_factory",
    [DebugExecutor, lambda: ThreadPoolExecutor(2), AsyncIOExecutor,
     lambda: ProcessPoolExecutor(1)],
    ids=["debug", "thread", "asyncio", "process"],
)
def test_every_executor_sets_the_run_context(executor_factory) -> None:
    done = threading.Event()
    results = []

    def listener(event) -> None:
        results.append(event)
        done.set()

    scheduler = BackgroundScheduler(timezone="UTC")
    executor = executor_factory()
    loop = None
    if isinstance(executor, AsyncIOExecutor):
        loop = asyncio.new_event_loop()
        threading.Thread(target=loop.run_forever, daemon=True).start()
        scheduler._eventloop = loop
    scheduler.add_executor(executor, "x")
    scheduler.add_listener(listener, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED)
    scheduler.start()
    try:
        func = report_run_async if isinstance(executor, AsyncIOExecutor) else report_run
        job = scheduler.add_job(func, executor="x", id="ctx", misfire_grace_time=None)
        assert done.wait(30)
    finally:
        scheduler.shutdown()
        if loop is not None:
            loop.call_soon_threadsafe(loop.stop)
    [event] = results
    assert event.code == EVENT_JOB_EXECUTED, event.traceback
    assert isinstance(event.retval, RunContext)
    assert (event.retval.job_id, event.retval.jobstore) == (job.id, "default")
    assert event.retval.scheduled_time == event.scheduled_run_time


def test_run_context_is_an_immutable_hashable_tuple_and_run_job_takes_a_logger() -> None:
    import logging

    from nbsched.runcontext import enter_run, exit_run

    when = datetime(2026, 1, 1, tzinfo=UTC)
    run = RunContext("j", None, when)
    with pytest.raises(AttributeError):
        run.job_id = "other"  # type: ignore[misc]
    assert {run: 1}[RunContext("j", None, when)] == 1
    token = enter_run(run)
    assert current_run() is run
    exit_run(token)
    assert current_run() is None
    [event] = run_job(_Job(report_run), "s", [when], logging.getLogger("nbsched.test"))
    assert event.retval == RunContext("j", "s", when)
