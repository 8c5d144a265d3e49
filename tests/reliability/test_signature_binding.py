"""A signed record copied under another id, or into another store, never runs (issue 11, 2).

Before the fix the signature covered the record but not where it was found: copying job a's
signed record under id b (an SQL row, a Redis hash field plus its index member) made the
scheduler run a in a tight loop — thousands of runs in a few seconds (3,003 in 5 s on SQLite,
2,229 on Redis) with the job listed twice, because every run updated row a while row b stayed
due. Now the tag of a format-3 record covers the job id and the store's table name / key
prefix; a format-2 record (no binding) is checked against the id in its authenticated state.
A mismatch is quarantined (BindingError), the original job runs once per fire time.

Real servers, a real background scheduler.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy
from waiting import await_until

from nbsched.events import EVENT_JOB_SUBMITTED
from nbsched.jobstores.redis import RedisJobStore
from nbsched.jobstores.sqlalchemy import SQLAlchemyJobStore
from nbsched.schedulers.background import BackgroundScheduler
from nbsched.serialization import MAGIC
from nbsched.signing import sign

UTC = timezone.utc
BACKENDS = ["sqlite", "postgresql", "mysql", "redis"]


class Backend:
    """A fresh store on one backend plus raw access that bypasses nbsched (the attacker)."""

    def __init__(self, kind: str, store: Any, name: str) -> None:
        self.kind = kind
        self.store = store
        self.name = name

    def raw_record(self, job_id: str) -> bytes:
        if self.kind == "redis":
            return self.store.redis.hget(self.store.jobs_key, job_id)
        table = self.store.jobs_t
        with self.store.engine.connect() as conn:
            return bytes(
                conn.execute(sqlalchemy.select(table.c.job_state).where(table.c.id == job_id))
                .scalar_one()
            )

    def insert_raw(self, job_id: str, record: bytes, next_run_time: float) -> None:
        """Write a record under ``job_id`` the way someone with write access to the server
        would: a row, or a hash field with its sorted-set member and order entry."""
        if self.kind == "redis":
            member = f"{0xFFFF:016x}:{job_id}".encode()
            pipe = self.store.redis.pipeline()
            pipe.hset(self.store.jobs_key, job_id, record)
            pipe.hset(self.store.order_key, job_id, member)
            pipe.zadd(self.store.run_times_key, {member: next_run_time})
            pipe.execute()
            return
        with self.store.engine.begin() as conn:
            conn.execute(
                self.store.jobs_t.insert().values(
                    id=job_id, next_run_time=next_run_time, job_state=record
                )
            )


def _make_store(kind: str, tmp_path, request, name: str) -> Any:
    if kind == "sqlite":
        return SQLAlchemyJobStore(url=f"sqlite:///{tmp_path / 'jobs.sqlite'}", tablename=name)
    if kind == "redis":
        url = request.getfixturevalue("redis_url")
        return RedisJobStore(url=url, jobs_key=f"{name}.jobs", run_times_key=f"{name}.times")
    url = request.getfixturevalue("postgres_url" if kind == "postgresql" else "mysql_url")
    return SQLAlchemyJobStore(url=url, tablename=name)


def _cleanup(backend: Backend) -> None:
    store = backend.store
    try:
        if backend.kind == "redis":
            store._delete_keys()
        else:
            store._drop_tables()
    finally:
        store.shutdown()


@pytest.fixture(params=BACKENDS)
def backend(request, tmp_path) -> Iterator[Backend]:
    name = f"bind_{uuid.uuid4().hex[:10]}"
    made: list[Backend] = []

    def make(suffix: str = "") -> Backend:
        one = Backend(request.param, _make_store(request.param, tmp_path, request, name + suffix),
                      name + suffix)
        made.append(one)
        return one

    first = make()
    first.make_other = make  # type: ignore[attr-defined]
    yield first
    for one in made:
        _cleanup(one)



def _as_format_2(record: bytes) -> bytes:
    """The same record signed as format 2 (nbsched 0.2: no binding), under the same key."""
    prefix = MAGIC + bytes([2])
    body = record[37:]
    return prefix + sign(prefix + body) + body


@pytest.mark.parametrize("old_format", [False, True], ids=["format3", "format2"])
def test_record_copied_under_another_id_is_quarantined_not_looped(
    backend: Backend, old_format: bool
) -> None:
    store = backend.store
    runs: Counter[str] = Counter()
    lock = threading.Lock()

    def count(event: Any) -> None:
        with lock:
            runs[event.job_id] += 1

    scheduler = BackgroundScheduler(jobstores={"default": store}, timezone="UTC")
    scheduler.add_listener(count, EVENT_JOB_SUBMITTED)
    scheduler.start(paused=True)
    try:
        now = datetime.now(UTC)
        scheduler.add_job("os:getpid", "interval", hours=1, id="a", next_run_time=now)
        record = backend.raw_record("a")
        if old_format:
            record = _as_format_2(record)
        backend.insert_raw("b", record, now.timestamp() - 1)

        started = time.monotonic()
        scheduler.resume()
        quarantined = lambda: [q.id for q in store.get_quarantined_jobs()]  # noqa: E731
        await_until(lambda: runs["a"] >= 1 and quarantined() == ["b"], 15,
               lambda: f"one run of a and b quarantined ({dict(runs)} runs in "
                       f"{time.monotonic() - started:.1f} s)")
        # A loop would show hundreds of runs here within a fraction of a second.
        time.sleep(0.5)
        elapsed = time.monotonic() - started
        print(f"FIGURE point 2 {backend.kind} old_format={old_format}: "
              f"{sum(runs.values())} runs in {elapsed:.1f} s")
        assert dict(runs) == {"a": 1}, f"{dict(runs)} runs in {elapsed:.1f} s"
        (entry,) = store.get_quarantined_jobs()
        assert "BindingError" in entry.reason and "'a'" in entry.reason
        assert [job.id for job in scheduler.get_jobs()] == ["a"]
        assert backend.raw_record("b") == record  # kept byte for byte
    finally:
        scheduler.shutdown(wait=False)


def test_record_copied_into_another_store_is_quarantined(backend: Backend) -> None:
    """Same id, another table / key prefix: the tag is bound to the store it was written in."""
    source = backend.store
    other = backend.make_other("_x")  # type: ignore[attr-defined]
    scheduler = BackgroundScheduler(jobstores={"default": source, "other": other.store},
                                    timezone="UTC")
    scheduler.start(paused=True)
    try:
        due = datetime.now(UTC) - timedelta(seconds=1)
        scheduler.add_job("os:getpid", "interval", hours=1, id="a", next_run_time=due)
        scheduler.add_job("os:getcwd", "interval", hours=1, id="own", next_run_time=due,
                          jobstore="other")
        other.insert_raw("a", backend.raw_record("a"), due.timestamp())
        assert [job.id for job in other.store.get_due_jobs(datetime.now(UTC))] == ["own"]
        (entry,) = other.store.get_quarantined_jobs()
        assert entry.id == "a" and "BindingError" in entry.reason
        assert backend.name in entry.reason  # names the store it was signed for
        assert [job.id for job in source.get_due_jobs(datetime.now(UTC))] == ["a"]
    finally:
        scheduler.shutdown(wait=False)


def test_format_2_records_still_run_and_are_upgraded_on_the_next_write(
    backend: Backend,
) -> None:
    store = backend.store
    scheduler = BackgroundScheduler(jobstores={"default": store}, timezone="UTC")
    scheduler.start(paused=True)
    try:
        due = datetime.now(UTC) - timedelta(seconds=1)
        scheduler.add_job("os:getpid", "interval", hours=1, id="a", next_run_time=due)
        old = _as_format_2(backend.raw_record("a"))
        store.remove_job("a")
        backend.insert_raw("a", old, due.timestamp())
        (job,) = store.get_due_jobs(datetime.now(UTC))
        assert job.id == "a" and store.get_quarantined_jobs() == []
        job.next_run_time = datetime.now(UTC) + timedelta(hours=1)
        store.update_job(job)
        assert backend.raw_record("a")[4] == 3  # rewritten as format 3
    finally:
        scheduler.shutdown(wait=False)
