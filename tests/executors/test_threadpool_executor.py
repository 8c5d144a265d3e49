"""ThreadPoolExecutor: concurrency, instance limits, shutdown and restart."""

from __future__ import annotations

import threading

import pytest

from nbsched.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED
from nbsched.executors.base import MaxInstancesReachedError
from nbsched.executors.pool import ThreadPoolExecutor


@pytest.fixture
def pool(scheduler):
    executor = ThreadPoolExecutor(max_workers=4)
    executor.start(scheduler, "threads")
    yield executor
    executor.shutdown(wait=True)


def test_runs_in_worker_threads_and_reports(pool, scheduler, make_job, now):
    pool.submit_job(make_job("name", lambda: threading.current_thread().name), [now])
    pool.submit_job(make_job("err", lambda: 1 / 0), [now])
    scheduler.wait_for_events(2)
    [ok] = scheduler.by_job("name")
    [err] = scheduler.by_job("err")
    assert ok.code == EVENT_JOB_EXECUTED
    assert ok.retval.startswith("nbsched-worker")
    assert ok.retval != threading.current_thread().name
    assert err.code == EVENT_JOB_ERROR
    assert isinstance(err.exception, ZeroDivisionError)
    assert "ZeroDivisionError" in err.traceback
    assert err.start_time <= err.end_time


def test_max_instances_while_running_then_freed(pool, scheduler, make_job, now):
    release = threading.Event()
    started = threading.Barrier(3)

    def blocker():
        started.wait(timeout=10)
        release.wait(timeout=10)
        return "done"

    job = make_job("limited", blocker, max_instances=2)
    pool.submit_job(job, [now])
    pool.submit_job(job, [now])
    started.wait(timeout=10)  # both instances are running
    with pytest.raises(MaxInstancesReachedError):
        pool.submit_job(job, [now])
    release.set()
    scheduler.wait_for_events(2)
    # Instance slots are released before the events are dispatched.
    assert pool._instances == {}
    pool.submit_job(make_job("limited", lambda: "again", max_instances=2), [now])
    assert scheduler.wait_for_events(3)[-1].retval == "again"


def test_runs_truly_concurrently(pool, scheduler, make_job, now):
    barrier = threading.Barrier(4)
    for i in range(4):
        pool.submit_job(make_job(f"j{i}", lambda: barrier.wait(timeout=10)), [now])
    events = scheduler.wait_for_events(4)
    assert all(e.code == EVENT_JOB_EXECUTED for e in events)


def test_shutdown_wait_true_waits_for_running_jobs(scheduler, make_job, now):
    executor = ThreadPoolExecutor(2)
    executor.start(scheduler, "threads")
    entered, release = threading.Event(), threading.Event()

    def slow():
        entered.set()
        release.wait(timeout=10)
        return "finished"

    executor.submit_job(make_job("slow", slow), [now])
    entered.wait(timeout=10)
    threading.Timer(0.05, release.set).start()
    executor.shutdown(wait=True)
    # shutdown returned only after the run finished and its event was dispatched
    assert [e.retval for e in scheduler.events] == ["finished"]


def test_shutdown_wait_false_returns_while_job_runs(scheduler, make_job, now):
    executor = ThreadPoolExecutor(2)
    executor.start(scheduler, "threads")
    entered, release = threading.Event(), threading.Event()

    def slow():
        entered.set()
        release.wait(timeout=10)
        return "late"

    executor.submit_job(make_job("slow", slow), [now])
    entered.wait(timeout=10)
    executor.shutdown(wait=False)
    assert scheduler.events == []
    release.set()
    assert scheduler.wait_for_events(1)[0].retval == "late"


def test_submit_after_shutdown_fails_and_frees_instance(scheduler, make_job, now):
    executor = ThreadPoolExecutor(1)
    executor.start(scheduler, "threads")
    executor.shutdown()
    with pytest.raises(RuntimeError):
        executor.submit_job(make_job("x", lambda: 1), [now])
    assert executor._instances == {}


def test_restart_after_shutdown_gets_a_fresh_pool(scheduler, make_job, now):
    executor = ThreadPoolExecutor(1)
    executor.start(scheduler, "threads")
    executor.shutdown()
    executor.start(scheduler, "threads")
    executor.submit_job(make_job("x", lambda: 7), [now])
    assert scheduler.wait_for_events(1)[0].retval == 7
    executor.shutdown()


def test_pool_kwargs_are_passed_through(scheduler, make_job, now):
    executor = ThreadPoolExecutor(1, pool_kwargs={"thread_name_prefix": "custom"})
    executor.start(scheduler, "threads")
    executor.submit_job(make_job("x", lambda: threading.current_thread().name), [now])
    assert scheduler.wait_for_events(1)[0].retval.startswith("custom")
    executor.shutdown()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"max_workers": 0}, ValueError, r"max_workers: must be at least 1, got 0"),
        ({"max_workers": "many"}, TypeError, r"max_workers: .*'many'"),
        ({"pool_kwargs": ["x"]}, TypeError, r"pool_kwargs: expected a dict"),
    ],
)
def test_bad_arguments_are_named(kwargs, error, match):
    with pytest.raises(error, match=match):
        ThreadPoolExecutor(**kwargs)
