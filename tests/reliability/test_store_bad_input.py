"""One bad index entry never stops a store; one job-id rule on every store (issue 11, 5).

Before the fix a Redis run-times member that is not valid UTF-8 stopped the whole store:
every ``get_due_jobs``/``get_all_jobs`` raised UnicodeDecodeError, so no job of that store
ran again. Now the member is set aside (kept in ``<jobs_key>.bad_members``, listed with the
quarantined records) and the store goes on.

Job ids were not validated alike: PostgreSQL and MySQL raised raw driver DataErrors for ids
over 191 characters or with NUL, SQLite accepted 10,000 characters. Now every store (memory
included) refuses them with one ValueError naming the rule: 1 to 191 characters, no NUL,
valid Unicode.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pytest
from waiting import await_until

from nbsched.events import EVENT_JOB_EXECUTED
from nbsched.jobstores.base import MAX_JOB_ID_LENGTH, JobLookupError
from nbsched.jobstores.memory import MemoryJobStore
from nbsched.jobstores.redis import RedisJobStore
from nbsched.jobstores.sqlalchemy import SQLAlchemyJobStore
from nbsched.schedulers.background import BackgroundScheduler

UTC = timezone.utc



@pytest.fixture
def redis_store(redis_url: str) -> Iterator[RedisJobStore]:
    name = f"badinput_{uuid.uuid4().hex[:10]}"
    store = RedisJobStore(url=redis_url, jobs_key=f"{name}.jobs", run_times_key=f"{name}.times")
    yield store
    store._delete_keys()
    store.shutdown()


def test_invalid_utf8_member_is_set_aside_and_the_store_goes_on(
    redis_store: RedisJobStore,
) -> None:
    store = redis_store
    ran: list[str] = []
    scheduler = BackgroundScheduler(jobstores={"default": store}, timezone="UTC",
                                    jobstore_retry_interval=0.2)
    scheduler.add_listener(lambda event: ran.append(event.job_id), EVENT_JOB_EXECUTED)
    scheduler.start(paused=True)
    try:
        now = datetime.now(UTC)
        scheduler.add_job("os:getpid", "interval", hours=1, id="healthy", next_run_time=now,
                          misfire_grace_time=None)
        bad = f"{0:016x}:".encode() + b"\xff\xfe bad"
        store.redis.zadd(store.run_times_key, {bad: now.timestamp() - 10})
        failures = 0
        for _ in range(3):  # the store's own reads: before the fix, every one raised
            try:
                store.get_all_jobs()
            except UnicodeDecodeError:
                failures += 1
        print(f"FIGURE point 5 redis invalid UTF-8 member: {failures} of 3 reads failed")
        assert failures == 0
        assert store.redis.zscore(store.run_times_key, bad) is None  # out of the index
        assert store.redis.hexists(store.bad_members_key, bad)  # kept, not lost
        (entry,) = store.get_quarantined_jobs()
        assert "UnicodeDecodeError" in entry.reason and entry.id.startswith("0" * 16)
        scheduler.resume()
        await_until(lambda: ran == ["healthy"], 10, lambda: f"the healthy job to run ({ran})")
        store.remove_quarantined(entry.id)
        assert store.get_quarantined_jobs() == []
    finally:
        scheduler.shutdown(wait=False)


@pytest.fixture(params=["memory", "sqlite", "postgresql", "mysql", "redis"])
def any_store(request, tmp_path) -> Iterator[Any]:
    kind = request.param
    name = f"ids_{uuid.uuid4().hex[:10]}"
    if kind == "memory":
        store: Any = MemoryJobStore()
    elif kind == "sqlite":
        store = SQLAlchemyJobStore(url=f"sqlite:///{tmp_path / 'ids.sqlite'}", tablename=name)
    elif kind == "redis":
        store = RedisJobStore(url=request.getfixturevalue("redis_url"),
                              jobs_key=f"{name}.jobs", run_times_key=f"{name}.times")
    else:
        fixture = "postgres_url" if kind == "postgresql" else "mysql_url"
        store = SQLAlchemyJobStore(url=request.getfixturevalue(fixture), tablename=name)
    scheduler = BackgroundScheduler(jobstores={"default": store}, timezone="UTC")
    scheduler.start(paused=True)
    yield scheduler
    scheduler.shutdown(wait=False)
    if isinstance(store, RedisJobStore):
        store._delete_keys()
    elif isinstance(store, SQLAlchemyJobStore):
        store._drop_tables()
        store.shutdown()


@pytest.mark.parametrize(
    ("job_id", "rule"),
    [
        ("x" * (MAX_JOB_ID_LENGTH + 1), "1 to 191 characters"),
        ("x" * 10_000, "1 to 191 characters"),
        ("nul\x00inside", "NUL"),
        ("lone \ud800 surrogate", "valid Unicode"),
    ],
    ids=["192-chars", "10000-chars", "nul", "surrogate"],
)
def test_every_store_refuses_the_same_ids_with_one_value_error(
    any_store: Any, job_id: str, rule: str
) -> None:
    scheduler = any_store
    with pytest.raises(ValueError, match=rule) as info:
        scheduler.add_job("os:getpid", "interval", hours=1, id=job_id)
    assert type(info.value) is ValueError  # not a driver's DataError
    store = scheduler._lookup_jobstore("default")
    assert store.lookup_job(job_id) is None
    with pytest.raises(JobLookupError):
        store.remove_job(job_id)
    assert scheduler.get_jobs() == []


def test_every_store_keeps_the_longest_allowed_id(any_store: Any) -> None:
    scheduler = any_store
    longest = "é" * MAX_JOB_ID_LENGTH  # characters, not bytes
    scheduler.add_job("os:getpid", "interval", hours=1, id=longest)
    assert [job.id for job in scheduler.get_jobs()] == [longest]
    assert scheduler.get_job(longest).id == longest
