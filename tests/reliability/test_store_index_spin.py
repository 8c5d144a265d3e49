"""A changed index never makes the scheduler spin (issue 11, point 3).

The next-run-time index (the SQL ``next_run_time`` column, the Redis sorted-set score and its
members) is not signed. Before the fix, making a paused job look due there — or adding an
orphan Redis member with a past score — gave a silent 100 % CPU loop: the store kept
reporting a past next run time, ``get_due_jobs`` returned nothing runnable, and the scheduler
asked again at once, tens of thousands of times a second. Now the signed record is the truth:
the index entry is repaired from it with a warning, and the scheduler goes back to sleep.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any

import pytest
import sqlalchemy
from waiting import await_until

from nbsched.jobstores.redis import RedisJobStore
from nbsched.jobstores.sqlalchemy import SQLAlchemyJobStore
from nbsched.schedulers.background import BackgroundScheduler

UTC = timezone.utc



class Counting:
    """Counts the scheduler's ``get_due_jobs`` calls on a store (a spin shows up here)."""

    def __init__(self, store: Any) -> None:
        self.calls = 0
        original = store.get_due_jobs

        def get_due_jobs(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return original(*args, **kwargs)

        store.get_due_jobs = get_due_jobs


def _store(kind: str, request, tmp_path) -> Any:
    name = f"spin_{uuid.uuid4().hex[:10]}"
    if kind == "sqlite":
        return SQLAlchemyJobStore(url=f"sqlite:///{tmp_path / 'jobs.sqlite'}", tablename=name)
    if kind == "redis":
        return RedisJobStore(url=request.getfixturevalue("redis_url"), jobs_key=f"{name}.jobs",
                             run_times_key=f"{name}.times")
    fixture = "postgres_url" if kind == "postgresql" else "mysql_url"
    return SQLAlchemyJobStore(url=request.getfixturevalue(fixture), tablename=name)


@pytest.fixture
def scheduler_on(request, tmp_path) -> Iterator[Callable[[str], tuple[Any, Any]]]:
    made: list[tuple[Any, Any]] = []

    def make(kind: str) -> tuple[Any, Any]:
        store = _store(kind, request, tmp_path)
        scheduler = BackgroundScheduler(jobstores={"default": store}, timezone="UTC")
        scheduler.start(paused=True)
        made.append((scheduler, store))
        return scheduler, store

    yield make
    for scheduler, store in made:
        scheduler.shutdown(wait=False)
        try:
            if isinstance(store, RedisJobStore):
                store._delete_keys()
            else:
                store._drop_tables()
        finally:
            store.shutdown()


def _observe(scheduler: Any, store: Any, repaired: Callable[[], bool], label: str) -> None:
    counting = Counting(store)
    cpu0, started = time.process_time(), time.monotonic()
    scheduler.resume()
    await_until(repaired, 10, lambda: f"the index repair ({counting.calls} get_due_jobs calls, "
                                 f"{time.process_time() - cpu0:.2f} s CPU so far)")
    calls_at_repair = counting.calls
    time.sleep(0.5)  # a spin would make thousands of calls here
    elapsed, cpu = time.monotonic() - started, time.process_time() - cpu0
    print(f"FIGURE point 3 {label}: {counting.calls} get_due_jobs calls, {cpu:.2f} s CPU in "
          f"{elapsed:.1f} s")
    assert counting.calls - calls_at_repair <= 2, (counting.calls, calls_at_repair)
    assert counting.calls <= 6, f"{counting.calls} calls in {elapsed:.1f} s"


@pytest.mark.parametrize("kind", ["sqlite", "postgresql", "mysql", "redis"])
def test_paused_job_made_due_in_the_index_is_repaired(scheduler_on, kind, caplog) -> None:
    scheduler, store = scheduler_on(kind)
    scheduler.add_job("os:getpid", "interval", hours=1, id="paused")
    scheduler.pause_job("paused")
    scheduler.add_job("os:getcwd", "interval", hours=1, id="later")
    past = time.time() - 60
    if kind == "redis":
        member = store.redis.hget(store.order_key, "paused")
        store.redis.zadd(store.run_times_key, {member: past}, xx=True)

        def repaired() -> bool:
            return store.redis.zscore(store.run_times_key, member) == float("inf")
    else:
        t = store.jobs_t
        with store.engine.begin() as conn:
            conn.execute(sqlalchemy.update(t).where(t.c.id == "paused").values(
                next_run_time=past))

        def repaired() -> bool:
            with store.engine.connect() as conn:
                return conn.execute(sqlalchemy.select(t.c.next_run_time).where(
                    t.c.id == "paused")).scalar() is None

    assert store.get_next_run_time().timestamp() == pytest.approx(past)
    with caplog.at_level(logging.WARNING, logger="nbsched.jobstores"):
        _observe(scheduler, store, repaired, f"{kind} paused job made due")
    assert "repaired from the record" in caplog.text
    assert scheduler.get_job("paused").next_run_time is None  # still paused, never ran
    assert store.get_next_run_time() == scheduler.get_job("later").next_run_time


def test_orphan_and_duplicate_redis_members_are_removed(scheduler_on, caplog) -> None:
    scheduler, store = scheduler_on("redis")
    scheduler.add_job("os:getpid", "interval", hours=1, id="real")
    past = time.time() - 60
    orphan = f"{0xFFFF:016x}:ghost".encode()
    duplicate = f"{0xFFFE:016x}:real".encode()
    store.redis.zadd(store.run_times_key, {orphan: past, duplicate: past})

    def repaired() -> bool:
        members = store.redis.zrange(store.run_times_key, 0, -1)
        return orphan not in members and duplicate not in members

    with caplog.at_level(logging.WARNING, logger="nbsched.jobstores"):
        _observe(scheduler, store, repaired, "redis orphan member")
    assert "belongs to no job record" in caplog.text
    assert [job.id for job in scheduler.get_jobs()] == ["real"]  # listed once
    assert store.get_next_run_time() == scheduler.get_job("real").next_run_time
    assert store.redis.hexists(store.jobs_key, "real")


def test_due_row_with_a_wrong_index_time_still_runs_once(scheduler_on) -> None:
    """The record says due, the column says otherwise (but due): run it, fix the column."""
    scheduler, store = scheduler_on("sqlite")
    due = datetime.now(UTC)
    scheduler.add_job("os:getpid", "interval", hours=1, id="job", next_run_time=due)
    t = store.jobs_t
    with store.engine.begin() as conn:
        conn.execute(sqlalchemy.update(t).values(next_run_time=due.timestamp() - 3600))
    (job,) = store.get_due_jobs(datetime.now(UTC))
    assert job.id == "job"
    with store.engine.connect() as conn:
        assert conn.execute(sqlalchemy.select(t.c.next_run_time)).scalar() == due.timestamp()
