"""Persistent job store speed: nbsched vs APScheduler 3.11, same process, same database.

The case is what a notebook user does: add 2,000 jobs one by one (each ``add_job`` is its own
committed transaction and is durable when it returns — no batching) and then list them all
(``get_all_jobs``, which decodes every record). Both libraries get the same kind of job: an
interval trigger and ``operator.add(1, 2)`` stored by reference.

Backends: an SQLite file in a fresh temporary directory (the headline figure), and, when the
services answer on loopback, PostgreSQL and Redis (URLs from ``NBSCHED_TEST_POSTGRES_URL`` /
``NBSCHED_TEST_REDIS_URL``). Every run uses its own table / key prefix and removes it. Runs of
the two libraries are interleaved so a load change hits both; the best and the median of the
repeats are reported because the machine is shared.

By default all jobs share one trigger object (as when a script passes one trigger instance to
many ``add_job`` calls); ``--trigger-per-job`` gives every job its own trigger (different start
dates), the worst case for nbsched's per-trigger caching.

``run(scale, repeats, trigger_per_job)`` returns the figures (``scale`` defaults to
``NBSCHED_BENCH_SCALE``); running the module prints a table::

    python benchmarks/bench_stores.py [--scale 0.5] [--repeats 5] [--trigger-per-job]
"""

from __future__ import annotations

import argparse
import importlib
import operator
import os
import shutil
import statistics
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


def _triggers(trigger_class: type, count: int, per_job: bool) -> list[Any]:
    if not per_job:
        return [trigger_class(minutes=5, start_date=START, timezone=UTC)] * count
    return [
        trigger_class(minutes=5, start_date=START + timedelta(seconds=n), timezone=UTC)
        for n in range(count)
    ]


def _jobs(library: str, count: int, trigger_per_job: bool = False) -> list[Any]:
    """The same jobs built with ``library``'s own Job and IntervalTrigger classes."""
    job_class = importlib.import_module(f"{library}.job").Job
    trigger_class = importlib.import_module(f"{library}.triggers.interval").IntervalTrigger
    # APScheduler's Job reads the scheduler's time zone; nbsched's needs no scheduler here.
    scheduler = SimpleNamespace(timezone=UTC) if library == "apscheduler" else None
    triggers = _triggers(trigger_class, count, trigger_per_job)
    return [
        job_class(
            scheduler,
            id=f"job-{n:06d}",
            func=operator.add,
            trigger=triggers[n],
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


def _time_once(
    backend: str, library: str, count: int, trigger_per_job: bool
) -> tuple[float, float]:
    jobs = _jobs(library, count, trigger_per_job)
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


def _phases(add: float, listing: float) -> dict[str, float]:
    return {"add": add, "list": listing, "total": add + listing}


def _measure(backend: str, count: int, repeats: int, trigger_per_job: bool) -> dict:
    """Best and median of ``repeats`` for each library, runs interleaved."""
    runs: dict[str, list[tuple[float, float]]] = {"nbsched": [], "apscheduler": []}
    for _ in range(repeats):
        for library in runs:
            runs[library].append(_time_once(backend, library, count, trigger_per_job))
    result: dict = {"best": {}, "median": {}, "runs": runs}
    for library, timings in runs.items():
        result["best"][library] = _phases(*min(timings, key=sum))
        result["median"][library] = _phases(
            statistics.median(add for add, _ in timings),
            statistics.median(listing for _, listing in timings),
        )
        result["median"][library]["total"] = statistics.median(map(sum, timings))
    # Ratio per repeat (the runs were interleaved, so each pair saw the same load).
    ratios = [sum(theirs) / sum(ours) for ours, theirs in zip(runs["nbsched"], runs["apscheduler"])]
    result["ratios"] = ratios
    return result


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


def run(
    scale: float | None = None, repeats: int = REPEATS, trigger_per_job: bool = False
) -> dict:
    """Time add + list for each backend and library; seconds, and APScheduler/nbsched ratios.

    ``results["backends"][backend]`` holds the best run per library, ``results["medians"]``
    the medians; ``results["ratios"][backend]`` is best APScheduler total / best nbsched total
    and ``results["median_ratios"][backend]`` the median of the per-repeat ratios.
    """
    if scale is None:
        scale = _scale_from_env()
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale!r}")
    if type(repeats) is not int or repeats < 1:
        raise ValueError(f"repeats must be a positive int, got {repeats!r}")
    os.environ.setdefault("NBSCHED_SECRET_KEY", "nbsched benchmark key")
    count = max(20, int(JOBS * scale))
    results: dict = {
        "jobs": count, "repeats": repeats, "trigger_per_job": trigger_per_job,
        "backends": {}, "medians": {}, "ratios": {}, "median_ratios": {}, "skipped": {},
    }
    for backend in BACKENDS:
        reason = _available(backend)
        if reason is not None:
            results["skipped"][backend] = reason
            print(f"bench_stores: {backend} skipped ({reason})", file=sys.stderr)
            continue
        measured = _measure(backend, count, repeats, trigger_per_job)
        best, median = measured["best"], measured["median"]
        results["backends"][backend] = best
        results["medians"][backend] = median
        results["ratios"][backend] = best["apscheduler"]["total"] / best["nbsched"]["total"]
        results["median_ratios"][backend] = statistics.median(measured["ratios"])
    return results


def _print(results: dict) -> None:
    header = (
        "backend", "phase", "nbsched ms", "APScheduler ms", "APS/nb",
        "median nb ms", "median APS ms", "APS/nb",
    )
    rows = []
    for backend, pair in results["backends"].items():
        median = results["medians"][backend]
        for phase in ("add", "list", "total"):
            ours, theirs = pair["nbsched"][phase], pair["apscheduler"][phase]
            m_ours, m_theirs = median["nbsched"][phase], median["apscheduler"][phase]
            rows.append(
                (backend, phase, f"{ours * 1000:.1f}", f"{theirs * 1000:.1f}",
                 f"{theirs / ours:.1f}x", f"{m_ours * 1000:.1f}", f"{m_theirs * 1000:.1f}",
                 f"{m_theirs / m_ours:.1f}x")
            )
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)))
    for backend, reason in results["skipped"].items():
        print(f"{backend}: skipped ({reason})")
    for backend, ratio in results["median_ratios"].items():
        print(f"{backend}: median of per-repeat total ratios {ratio:.1f}x")
    triggers = "one trigger per job" if results["trigger_per_job"] else "one shared trigger"
    print(
        f"\n{results['jobs']} jobs added one per call, then get_all_jobs(); {triggers}; "
        f"best and median of {results['repeats']}; Python {sys.version.split()[0]}"
    )


def _main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=None, help="fraction of 2,000 jobs")
    parser.add_argument("--repeats", type=int, default=REPEATS, help="interleaved repeats")
    parser.add_argument(
        "--trigger-per-job", action="store_true", help="give every job its own trigger"
    )
    args = parser.parse_args(argv)
    _print(run(args.scale, args.repeats, args.trigger_per_job))


if __name__ == "__main__":
    _main()
