"""Persistent job store speed: nbsched vs APScheduler 3.11, same process, same database.

The case is what a notebook user does: add 2,000 jobs one by one (each ``add_job`` is its own
committed transaction and is durable when it returns — no batching) and then list them all
(``get_all_jobs``, which decodes every record). Both libraries get the same kind of job: an
interval trigger and ``operator.add(1, 2)`` stored by reference.

Backends: an SQLite file in a fresh temporary directory (the headline figure), and, when the
services answer on loopback, PostgreSQL and Redis (URLs from ``NBSCHED_TEST_POSTGRES_URL`` /
``NBSCHED_TEST_REDIS_URL``). Every run uses its own table / key prefix and removes it. The best
of a few interleaved repeats is reported because the machine is shared. ``run(scale)`` returns
the figures (``scale`` defaults to ``NBSCHED_BENCH_SCALE``); running the module prints a table.
"""

from __future__ import annotations

import operator
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

UTC = timezone.utc
START = datetime(2026, 1, 1, tzinfo=UTC)
JOBS = 2_000
REPEATS = 3
POSTGRES_URL = os.environ.get(
    "NBSCHED_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("NBSCHED_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _scale_from_env() -> float:
    raw = os.environ.get("NBSCHED_BENCH_SCALE", "1")
    try:
        scale = float(raw)
    except ValueError:
        raise ValueError(f"NBSCHED_BENCH_SCALE must be a number, got {raw!r}") from None
    if scale <= 0:
        raise ValueError(f"NBSCHED_BENCH_SCALE must be positive, got {raw!r}")
    return scale


# --- jobs ------------------------------------------------------------------------------------


def _nbsched_jobs(count: int) -> list[Any]:
    from nbsched.job import Job
    from nbsched.triggers.interval import IntervalTrigger

    trigger = IntervalTrigger(minutes=5, start_date=START, timezone=UTC)
    return [
        Job(
            None,
            id=f"job-{n:06d}",
            func=operator.add,
            trigger=trigger,
            executor="default",
            args=(1, 2),
            kwargs={},
            name=f"job {n}",
            misfire_grace_time=1,
            coalesce=True,
            max_instances=1,
            next_run_time=START + timedelta(seconds=n % 600),
        )
        for n in range(count)
    ]


def _aps_jobs(count: int) -> list[Any]:
    from apscheduler.job import Job
    from apscheduler.triggers.interval import IntervalTrigger

    scheduler = SimpleNamespace(timezone=UTC)
    trigger = IntervalTrigger(minutes=5, start_date=START, timezone=UTC)
    return [
        Job(
            scheduler,
            id=f"job-{n:06d}",
            func=operator.add,
            trigger=trigger,
            executor="default",
            args=(1, 2),
            kwargs={},
            name=f"job {n}",
            misfire_grace_time=1,
            coalesce=True,
            max_instances=1,
            next_run_time=START + timedelta(seconds=n % 600),
        )
        for n in range(count)
    ]


# --- stores ----------------------------------------------------------------------------------


@contextmanager
def _sqlite(library: str) -> Iterator[Any]:
    directory = tempfile.mkdtemp(prefix="nbsched-bench-")
    url = f"sqlite:///{directory}/jobs.sqlite"
    try:
        if library == "nbsched":
            from nbsched.jobstores.sqlalchemy import SQLAlchemyJobStore

            store = SQLAlchemyJobStore(url=url)
        else:
            from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore as Aps

            store = Aps(url=url)
        store.start(SimpleNamespace(timezone=UTC), "default")
        try:
            yield store
        finally:
            store.shutdown()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@contextmanager
def _postgres(library: str) -> Iterator[Any]:
    table = f"bench_{uuid.uuid4().hex[:10]}"
    if library == "nbsched":
        from nbsched.jobstores.sqlalchemy import SQLAlchemyJobStore

        store = SQLAlchemyJobStore(url=POSTGRES_URL, tablename=table)
    else:
        from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore as Aps

        store = Aps(url=POSTGRES_URL, tablename=table)
    store.start(SimpleNamespace(timezone=UTC), "default")
    try:
        yield store
    finally:
        if library == "nbsched":
            store._drop_tables()
        else:
            store.jobs_t.drop(store.engine, checkfirst=True)
        store.shutdown()


@contextmanager
def _redis(library: str) -> Iterator[Any]:
    prefix = f"bench.{uuid.uuid4().hex[:10]}"
    keys = {"jobs_key": f"{prefix}.jobs", "run_times_key": f"{prefix}.run_times"}
    if library == "nbsched":
        from nbsched.jobstores.redis import RedisJobStore

        store = RedisJobStore(url=REDIS_URL, **keys)
    else:
        from apscheduler.jobstores.redis import RedisJobStore as Aps
        from redis import Redis

        store = Aps(**keys)
        store.redis = Redis.from_url(REDIS_URL)
    store.start(SimpleNamespace(timezone=UTC), "default")
    try:
        yield store
    finally:
        store.remove_all_jobs()
        if library == "nbsched":
            store._delete_keys()
        store.shutdown()


BACKENDS: dict[str, Callable[[str], Any]] = {
    "sqlite": _sqlite,
    "postgresql": _postgres,
    "redis": _redis,
}


def _time_once(backend: str, library: str, count: int) -> tuple[float, float]:
    jobs = _nbsched_jobs(count) if library == "nbsched" else _aps_jobs(count)
    with BACKENDS[backend](library) as store:
        began = time.perf_counter()
        for job in jobs:
            store.add_job(job)
        added = time.perf_counter()
        listed = store.get_all_jobs()
        done = time.perf_counter()
    if len(listed) != count:
        raise RuntimeError(f"{library} {backend}: listed {len(listed)} of {count} jobs")
    return added - began, done - added


def _best_pair(backend: str, count: int) -> tuple[dict[str, float], dict[str, float]]:
    """Best of REPEATS for each library, runs interleaved so a load change hits both."""
    runs: dict[str, list[tuple[float, float]]] = {"nbsched": [], "apscheduler": []}
    for _ in range(REPEATS):
        for library in runs:
            runs[library].append(_time_once(backend, library, count))
    best = {}
    for library, timings in runs.items():
        add, listing = min(timings, key=sum)
        best[library] = {"add": add, "list": listing, "total": add + listing}
    return best["nbsched"], best["apscheduler"]


def _available(backend: str) -> str | None:
    """None if usable, else why not (a service that does not answer)."""
    if backend == "sqlite":
        return None
    try:
        if backend == "postgresql":
            from sqlalchemy import create_engine, text

            engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 2})
            with engine.connect() as conn:
                conn.execute(text("select 1"))
            engine.dispose()
        else:
            from redis import Redis

            Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def run(scale: float | None = None) -> dict:
    """Time add + list for each backend and library; seconds, and APScheduler/nbsched ratios."""
    if scale is None:
        scale = _scale_from_env()
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale!r}")
    os.environ.setdefault("NBSCHED_SECRET_KEY", "nbsched benchmark key")
    count = max(20, int(JOBS * scale))
    results: dict = {"jobs": count, "backends": {}, "ratios": {}, "skipped": {}}
    for backend in BACKENDS:
        reason = _available(backend)
        if reason is not None:
            results["skipped"][backend] = reason
            print(f"bench_stores: {backend} skipped ({reason})", file=sys.stderr)
            continue
        ours, theirs = _best_pair(backend, count)
        results["backends"][backend] = {"nbsched": ours, "apscheduler": theirs}
        results["ratios"][backend] = theirs["total"] / ours["total"]
    return results


def _print(results: dict) -> None:
    header = ("backend", "phase", "nbsched ms", "APScheduler ms", "APS/nb")
    rows = []
    for backend, pair in results["backends"].items():
        for phase in ("add", "list", "total"):
            ours, theirs = pair["nbsched"][phase], pair["apscheduler"][phase]
            rows.append(
                (backend, phase, f"{ours * 1000:.1f}", f"{theirs * 1000:.1f}",
                 f"{theirs / ours:.1f}x")
            )
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)))
    for backend, reason in results["skipped"].items():
        print(f"{backend}: skipped ({reason})")
    print(
        f"\n{results['jobs']} jobs added one per call, then get_all_jobs(); best of {REPEATS}; "
        f"Python {sys.version.split()[0]}"
    )


if __name__ == "__main__":
    _print(run())
