"""Several processes starting together on a fresh store all succeed (issue 11, point 7).

Before the fix, of 4 processes starting at once on a fresh PostgreSQL or SQLite store, 2-3
failed in ``start()`` with DuplicateTable/UniqueViolation (CREATE TABLE raced), and the
run-history table had the same race and lost a run record. Real processes, released by one
barrier at the same instant, against the real servers.
"""

from __future__ import annotations

import multiprocessing
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest

from nbsched.history import RunRecord
from nbsched.jobstores.sqlalchemy import SQLAlchemyJobStore

PROCESSES = 4
UTC = timezone.utc


def _worker(url: str, table: str, index: int, barrier, results) -> None:
    from nbsched.schedulers.background import BackgroundScheduler

    try:
        store = SQLAlchemyJobStore(url=url, tablename=table)
        scheduler = BackgroundScheduler(jobstores={"default": store}, timezone="UTC")
        barrier.wait(30)
        scheduler.start(paused=True)
        scheduler.add_job("os:getpid", "interval", minutes=5, id=f"job-{index}")
        barrier.wait(30)  # every history write at once: the first creates the table
        now = datetime.now(UTC)
        store.record_run(RunRecord(f"job-{index}", "default", now, now, now, "ok", "1"))
        scheduler.shutdown()
        results.put((index, "ok"))
    except BaseException as exc:  # reported to the test, which fails with it
        results.put((index, f"{type(exc).__name__}: {exc}".splitlines()[0]))


def _race(url: str, table: str) -> list[tuple[int, str]]:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(PROCESSES)
    results = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(url, table, i, barrier, results))
             for i in range(PROCESSES)]
    for proc in procs:
        proc.start()
    outcomes = [results.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join(30)
    return sorted(outcomes)


def _check(url: str, table: str) -> None:
    outcomes = _race(url, table)
    failed = [outcome for _, outcome in outcomes if outcome != "ok"]
    print(f"FIGURE point 7 {url.split(':')[0]}: {len(failed)} of {PROCESSES} failed {failed}")
    assert outcomes == [(i, "ok") for i in range(PROCESSES)]
    store = SQLAlchemyJobStore(url=url, tablename=table)
    store.start(None, "default")
    try:
        assert sorted(job.id for job in store.get_all_jobs()) == [
            f"job-{i}" for i in range(PROCESSES)
        ]
        runs = store.get_run_history(limit=100)
        assert sorted(r.job_id for r in runs) == [f"job-{i}" for i in range(PROCESSES)]
    finally:
        store.remove_all_jobs()
        store.shutdown()


@pytest.mark.parametrize("attempt", range(3))
def test_sqlite_fresh_file(tmp_path: Path, attempt: int) -> None:
    _check(f"sqlite:///{tmp_path / 'fresh.sqlite'}", "nbsched_jobs")


@pytest.mark.parametrize("attempt", range(3))
def test_postgresql_fresh_tables(postgres_url: str, attempt: int) -> None:
    table = f"race_{uuid.uuid4().hex[:10]}"
    try:
        _check(postgres_url, table)
    finally:
        _drop(postgres_url, table)


def test_mysql_fresh_tables(mysql_url: str) -> None:
    table = f"race_{uuid.uuid4().hex[:10]}"
    try:
        _check(mysql_url, table)
    finally:
        _drop(mysql_url, table)


def _drop(url: str, table: str) -> None:
    import sqlalchemy

    engine = sqlalchemy.create_engine(url)
    try:
        with engine.begin() as conn:
            for name in (f"{table}_runs", f"{table}_schema", table):
                conn.execute(sqlalchemy.text(f"DROP TABLE IF EXISTS {name}"))
    finally:
        engine.dispose()
