"""Store behaviour that code written for APScheduler 3.11 relies on (run against every backend).

APScheduler's own store tests (``scripts/compat_aps.py``) exercise these through fixtures;
these are the same promises in nbsched's suite, so they hold without the compat run.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from unittest.mock import Mock

import pytest

from nbsched.job import Job
from nbsched.jobstores.memory import MemoryJobStore
from nbsched.schedulers.base import BaseScheduler
from nbsched.triggers.date import DateTrigger

UTC = timezone.utc
BASE = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return BASE + timedelta(seconds=seconds)


class Adder:
    def add(self, a: int, b: int) -> int:
        return a + b

    @classmethod
    def class_add(cls, a: int, b: int) -> int:
        return a + b


adder = Adder()


def test_an_empty_store_is_truthy(store):
    # ``if store:`` and ``store or default`` must not treat an empty store as missing.
    assert store.get_all_jobs() == []
    assert bool(store) is True
    assert (store or None) is store


def test_a_store_with_jobs_is_truthy(store, make_job):
    store.add_job(make_job("a", at(10)))
    assert bool(store) is True


def mock_scheduler_job(func, job_id: str, run_date: datetime, **options) -> Job:
    """A job made as APScheduler's tests make them: a Mock scheduler, no running scheduler."""
    scheduler = Mock(BaseScheduler, timezone=UTC)
    return Job(
        scheduler,
        id=job_id,
        func=func,
        trigger=DateTrigger(run_date, UTC),
        executor="default",
        args=(),
        kwargs=options.pop("kwargs", {}),
        name="job",
        misfire_grace_time=1,
        coalesce=False,
        max_instances=options.pop("max_instances", 1),
        next_run_time=run_date,
    )


@pytest.mark.parametrize(
    "func",
    [
        adder.add,
        Adder.class_add,
        f"{__name__}:adder.add",
        f"{__name__}:Adder.class_add",
    ],
    ids=["bound-method", "classmethod", "textual-method", "textual-classmethod"],
)
def test_methods_round_trip_with_a_mock_scheduler(store, func):
    job = mock_scheduler_job(func, "m", at(10), kwargs={"a": 1, "b": 2})
    if store:  # the idiom of APScheduler's test helpers
        store.add_job(job)
    found = store.lookup_job("m")
    assert found is not None
    assert found.func(*found.args, **found.kwargs) == 3


def test_update_with_a_fresh_job_object_replaces_the_stored_one(store):
    store.add_job(mock_scheduler_job("time:time", "a", at(10)))
    store.add_job(mock_scheduler_job("time:time", "b", at(5)))
    store.update_job(mock_scheduler_job("time:time", "a", at(20), max_instances=6))
    jobs = store.get_all_jobs()
    assert [job.id for job in jobs] == ["b", "a"]
    assert jobs[1].next_run_time == at(20)
    assert jobs[1].max_instances == 6


def test_memory_store_shutdown_forgets_its_jobs(make_job):
    # As APScheduler 3.11.3 (checked by running it): shutting the store down empties it.
    store = MemoryJobStore()
    store.start(None, "default")
    store.add_job(make_job("a", at(10)))
    store.shutdown()
    assert store.get_all_jobs() == []
    assert store.lookup_job("a") is None
    assert store.get_next_run_time() is None
    store.add_job(make_job("a", at(10)))  # the id is free again
    assert [job.id for job in store.get_all_jobs()] == ["a"]


def test_redis_repr_shows_no_client_or_url():
    from nbsched.jobstores.redis import RedisJobStore

    store = RedisJobStore(url="redis://:s3cret-pw@127.0.0.1:6379/0")  # connects lazily
    try:
        assert repr(store) == "<RedisJobStore>"
    finally:
        store.shutdown()


def test_sqlalchemy_repr_masks_the_password():
    from nbsched.jobstores.sqlalchemy import SQLAlchemyJobStore

    # The engine connects lazily: no server is needed to build the store.
    store = SQLAlchemyJobStore(url="postgresql+psycopg://user:s3cret-pw@127.0.0.1:1/db")
    try:
        text = repr(store)
    finally:
        store.shutdown()
    assert "s3cret-pw" not in text
    assert text == "<SQLAlchemyJobStore (url=postgresql+psycopg://user:***@127.0.0.1:1/db)>"
