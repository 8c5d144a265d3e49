"""Quarantined job records through the scheduler API (a real SQLite store, bytes tampered with
sqlite3 directly), and the memory store, which never quarantines anything."""

from __future__ import annotations

import logging
import sqlite3
import threading
from datetime import datetime, timedelta, timezone

import pytest

from nbsched.events import EVENT_JOB_EXECUTED
from nbsched.executors.debug import DebugExecutor
from nbsched.jobstores.base import JobLookupError
from nbsched.schedulers.background import BackgroundScheduler

pytest.importorskip("sqlalchemy")
from nbsched.jobstores.sqlalchemy import SQLAlchemyJobStore

pytestmark = pytest.mark.nbsched_only

UTC = timezone.utc
FAR = datetime(2060, 1, 1, tzinfo=UTC)


def noop() -> None:
    pass


class LogWatcher(logging.Handler):
    """Collects records from one logger and lets a test wait for a matching one."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.cond = threading.Condition()

    def emit(self, record: logging.LogRecord) -> None:
        with self.cond:
            self.records.append(record)
            self.cond.notify_all()

    def wait_for(self, text: str, timeout: float = 10) -> logging.LogRecord:
        def found() -> logging.LogRecord | None:
            return next((r for r in self.records if text in r.getMessage()), None)

        with self.cond:
            assert self.cond.wait_for(found, timeout), [r.getMessage() for r in self.records]
            return found()


@pytest.fixture
def db(tmp_path):
    return tmp_path / "jobs.sqlite"


@pytest.fixture
def scheduler(db):
    scheduler = BackgroundScheduler(
        timezone="UTC",
        executors={"default": DebugExecutor()},
        jobstores={"default": SQLAlchemyJobStore(url=f"sqlite:///{db}")},
    )
    scheduler.add_jobstore("memory", "mem")
    scheduler.start(paused=True)
    yield scheduler
    if scheduler.running:
        scheduler.shutdown()


@pytest.fixture
def store_log():
    watcher = LogWatcher()
    logger = logging.getLogger("nbsched.jobstores")
    logger.addHandler(watcher)
    yield watcher
    logger.removeHandler(watcher)


def tamper(db, job_id: str) -> bytes:
    """Flip one byte of the job's stored record; return the original bytes."""
    with sqlite3.connect(db) as conn:
        (payload,) = conn.execute(
            "SELECT job_state FROM nbsched_jobs WHERE id = ?", (job_id,)
        ).fetchone()
        broken = bytearray(payload)
        broken[-1] ^= 0xFF
        conn.execute("UPDATE nbsched_jobs SET job_state = ? WHERE id = ?", (bytes(broken), job_id))
    return bytes(payload)


def put_back(db, job_id: str, payload: bytes) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE nbsched_jobs SET job_state = ? WHERE id = ?", (payload, job_id))


def test_tampered_record_is_listed_retried_and_restored(scheduler, db, store_log):
    scheduler.add_job(noop, "date", run_date=FAR, id="bad")
    scheduler.add_job(noop, "date", run_date=FAR, id="good")
    original = tamper(db, "bad")

    assert [job.id for job in scheduler.get_jobs()] == ["good"]
    assert "'bad'" in store_log.wait_for("quarantined").getMessage()

    (entry,) = scheduler.get_quarantined_jobs()
    assert (entry.id, entry.jobstore) == ("bad", "default")
    assert entry.reason
    assert entry.next_run_time == FAR.timestamp()
    assert entry.quarantined_at is not None
    assert scheduler.get_quarantined_jobs(jobstore="default") == [entry]
    assert scheduler.get_quarantined_jobs(jobstore="mem") == []

    with pytest.raises(Exception):  # noqa: B017 - still tampered: the store's restore error
        scheduler.retry_quarantined_job("bad")
    assert [q.id for q in scheduler.get_quarantined_jobs()] == ["bad"]

    put_back(db, "bad", original)
    job = scheduler.retry_quarantined_job("bad")
    assert job.id == "bad" and job.next_run_time == FAR
    assert scheduler.get_quarantined_jobs() == []
    assert sorted(job.id for job in scheduler.get_jobs()) == ["bad", "good"]


def test_remove_quarantined_job(scheduler, db):
    scheduler.add_job(noop, "date", run_date=FAR, id="bad")
    tamper(db, "bad")
    assert scheduler.get_job("bad") is None  # the read quarantines it
    with pytest.raises(JobLookupError):
        scheduler.remove_quarantined_job("bad", jobstore="mem")
    scheduler.remove_quarantined_job("bad")
    assert scheduler.get_quarantined_jobs() == []
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM nbsched_jobs").fetchone() == (0,)
    with pytest.raises(JobLookupError):
        scheduler.remove_quarantined_job("bad")
    with pytest.raises(JobLookupError):
        scheduler.retry_quarantined_job("bad")


def test_unknown_store_alias_is_a_key_error(scheduler):
    with pytest.raises(KeyError, match="No such job store: nope"):
        scheduler.get_quarantined_jobs(jobstore="nope")


def test_running_scheduler_logs_the_quarantine_and_runs_the_restored_job(scheduler, db, store_log):
    due = datetime.now(UTC) - timedelta(seconds=5)
    scheduler.add_job(noop, "date", run_date=due, id="bad", misfire_grace_time=None)
    original = tamper(db, "bad")
    executed = threading.Event()
    scheduler.add_listener(lambda event: executed.set(), EVENT_JOB_EXECUTED)

    scheduler.resume()
    record = store_log.wait_for("quarantined")
    assert record.levelno == logging.ERROR and "'bad'" in record.getMessage()
    assert [q.id for q in scheduler.get_quarantined_jobs()] == ["bad"]
    assert not executed.is_set()

    put_back(db, "bad", original)
    scheduler.retry_quarantined_job("bad")  # wakes the scheduler: the job is due
    assert executed.wait(10)


def test_memory_store_and_stopped_scheduler_have_no_quarantine():
    scheduler = BackgroundScheduler(timezone="UTC")
    assert scheduler.get_quarantined_jobs() == []  # stopped: stores not connected yet
    scheduler.start(paused=True)
    try:
        scheduler.add_job(noop, "date", run_date=FAR, id="a")
        assert scheduler.get_quarantined_jobs() == []
        with pytest.raises(JobLookupError):
            scheduler.retry_quarantined_job("a")
        with pytest.raises(JobLookupError):
            scheduler.remove_quarantined_job("a")
    finally:
        scheduler.shutdown()
