"""Scheduler-engine benchmarks: nbsched vs APScheduler 3.11, side by side in one process.

Both libraries expose the same API (that is the point of nbsched), so every case is written once
and run against each library by import prefix. Cases:

``add``       add N interval jobs to a started, paused scheduler with a MemoryJobStore
              (default N = 100,000; target speed-up >= 5x);
``dispatch``  N jobs already due, debug executor: time from ``resume()`` (the wake-up) until the
              N-th ``EVENT_JOB_EXECUTED`` (default N = 5,000; target >= 2x);
``catchup``   20 interval-1 s jobs one day behind with ``coalesce=True``: time until each ran once,
              and the result is checked (one run each, next run time within the next second)
              (target >= 100x);
``memory``    traced memory per job (tracemalloc peak over baseline) with N jobs in the memory
              store (default N = 1,000,000 for both libraries; scaled like the others).

Speed-up = APScheduler time / nbsched time. Sizes scale with ``--scale`` (or the environment
variable ``NBSCHED_BENCH_SCALE``), e.g. ``--scale 0.01`` for a smoke run. If one library cannot
run a case (nbsched not yet complete, an exception), the case reports the error instead of a
number rather than aborting the whole table. The machine is shared, so each timing is the best
of ``--repeats`` runs (default 1 for the big cases: they are long enough to be stable-ish).
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
import threading
import time
import tracemalloc
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

LIBRARIES = ("apscheduler", "nbsched")
CASES = ("add", "dispatch", "catchup", "memory")
BASE_SIZES = {"add": 100_000, "dispatch": 5_000, "catchup": 86_400, "memory": 1_000_000}
CATCHUP_JOBS = 20
TARGETS = {"add": 5.0, "dispatch": 2.0, "catchup": 100.0, "memory": None}
WAIT_LIMIT = 600.0
UTC = timezone.utc


def noop() -> None:
    """The job body: as cheap as possible so the engine's own cost is what gets measured."""


def load(prefix: str) -> SimpleNamespace:
    """Import the handful of classes a case needs from ``prefix`` (``apscheduler``/``nbsched``)."""

    def attr(module: str, name: str):
        return getattr(importlib.import_module(f"{prefix}.{module}"), name)

    return SimpleNamespace(
        name=prefix,
        BackgroundScheduler=attr("schedulers.background", "BackgroundScheduler"),
        DebugExecutor=attr("executors.debug", "DebugExecutor"),
        MemoryJobStore=attr("jobstores.memory", "MemoryJobStore"),
        IntervalTrigger=attr("triggers.interval", "IntervalTrigger"),
        EVENT_JOB_EXECUTED=attr("events", "EVENT_JOB_EXECUTED"),
    )


def paused_scheduler(lib: SimpleNamespace):
    """A started-but-paused scheduler: jobs get real next run times, but nothing fires."""
    scheduler = lib.BackgroundScheduler(
        timezone="UTC",
        jobstores={"default": lib.MemoryJobStore()},
        executors={"default": lib.DebugExecutor()},
    )
    scheduler.start(paused=True)
    return scheduler


class ExecutionCounter:
    """Listener that releases a waiter once ``target`` distinct jobs have each reported a run.

    Counting distinct jobs (not events) matters for the catch-up case: a slow catch-up can take
    longer than the jobs' 1 s interval, so early jobs may legitimately run again before the last
    one has caught up. ``runs_when_done`` is the per-job run count at the moment of release.
    """

    def __init__(self, target: int) -> None:
        self.target = target
        self.runs: dict[str, int] = {}
        self.runs_when_done: dict[str, int] = {}
        self.done = threading.Event()
        self.finished_at = 0.0

    def __call__(self, event) -> None:
        self.runs[event.job_id] = self.runs.get(event.job_id, 0) + 1
        if not self.done.is_set() and len(self.runs) >= self.target:
            self.finished_at = time.perf_counter()
            self.runs_when_done = dict(self.runs)
            self.done.set()

    @property
    def count(self) -> int:
        return sum(self.runs.values())


def case_add(lib: SimpleNamespace, n: int) -> dict:
    scheduler = paused_scheduler(lib)
    try:
        began = time.perf_counter()
        for _ in range(n):
            scheduler.add_job(noop, "interval", minutes=5)
        elapsed = time.perf_counter() - began
        stored = len(scheduler.get_jobs())
    finally:
        scheduler.shutdown(wait=False)
    if stored != n:
        raise AssertionError(f"{lib.name}: {stored} jobs stored, expected {n}")
    return {"seconds": elapsed, "n": n}


def case_dispatch(lib: SimpleNamespace, n: int) -> dict:
    scheduler = paused_scheduler(lib)
    counter = ExecutionCounter(n)
    scheduler.add_listener(counter, lib.EVENT_JOB_EXECUTED)
    due = datetime.now(UTC) - timedelta(minutes=1)
    try:
        for _ in range(n):
            scheduler.add_job(noop, "date", run_date=due, misfire_grace_time=None)
        began = time.perf_counter()
        scheduler.resume()
        if not counter.done.wait(WAIT_LIMIT):
            raise TimeoutError(f"{lib.name}: only {counter.count} of {n} jobs ran")
        elapsed = counter.finished_at - began
    finally:
        scheduler.shutdown(wait=False)
    return {"seconds": elapsed, "n": n}


def case_catchup(lib: SimpleNamespace, behind_seconds: int) -> dict:
    scheduler = paused_scheduler(lib)
    counter = ExecutionCounter(CATCHUP_JOBS)
    scheduler.add_listener(counter, lib.EVENT_JOB_EXECUTED)
    now = datetime.now(UTC)
    first = now - timedelta(seconds=behind_seconds)
    try:
        for index in range(CATCHUP_JOBS):
            scheduler.add_job(
                noop,
                lib.IntervalTrigger(seconds=1, start_date=first, timezone="UTC"),
                id=f"behind-{index}",
                next_run_time=first,
                coalesce=True,
                misfire_grace_time=None,
            )
        began = time.perf_counter()
        scheduler.resume()
        if not counter.done.wait(WAIT_LIMIT):
            raise TimeoutError(f"{lib.name}: only {len(counter.runs)} of {CATCHUP_JOBS} jobs ran")
        elapsed = counter.finished_at - began
        scheduler.pause()
        checked_at = datetime.now(UTC)
        jobs = scheduler.get_jobs()
    finally:
        scheduler.shutdown(wait=False)
    # Correctness: each job ran once (coalesced) by the time the last one caught up, and its next
    # run is on its 1 s grid after the catch-up, not somewhere in the missed day.
    problems = []
    repeated = {job_id: n for job_id, n in counter.runs_when_done.items() if n != 1}
    if repeated:
        problems.append(f"not coalesced to one run: {repeated}")
    for job in jobs:
        nrt = job.next_run_time
        if nrt is None or not (now < nrt <= checked_at + timedelta(seconds=1)):
            problems.append(f"{job.id}: next run {nrt}")
        elif (nrt - first).total_seconds() % 1:
            problems.append(f"{job.id}: next run {nrt} is off the 1 s grid")
    if problems:
        raise AssertionError(f"{lib.name}: " + "; ".join(problems[:3]))
    return {"seconds": elapsed, "n": behind_seconds}


def case_memory(lib: SimpleNamespace, n: int) -> dict:
    gc.collect()
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        scheduler = paused_scheduler(lib)
        began = time.perf_counter()
        for _ in range(n):
            scheduler.add_job(noop, "interval", minutes=5)
        elapsed = time.perf_counter() - began
        current, peak = tracemalloc.get_traced_memory()
        scheduler.shutdown(wait=False)
        del scheduler
    finally:
        tracemalloc.stop()
        gc.collect()
    return {
        "bytes_per_job": (peak - baseline) / n,
        "retained_per_job": (current - baseline) / n,
        "seconds": elapsed,
        "n": n,
    }


RUNNERS = {"add": case_add, "dispatch": case_dispatch, "catchup": case_catchup,
           "memory": case_memory}


def sizes_for(scale: float) -> dict[str, int]:
    return {case: max(1, int(size * scale)) for case, size in BASE_SIZES.items()}


def default_scale() -> float:
    raw = os.environ.get("NBSCHED_BENCH_SCALE", "1")
    try:
        scale = float(raw)
    except ValueError:
        raise ValueError(f"NBSCHED_BENCH_SCALE must be a number, got {raw!r}") from None
    if scale <= 0:
        raise ValueError(f"NBSCHED_BENCH_SCALE must be positive, got {raw!r}")
    return scale


def run(
    scale: float | None = None,
    cases: tuple[str, ...] = CASES,
    libraries: tuple[str, ...] = LIBRARIES,
    repeats: int = 1,
    progress: bool = False,
) -> dict:
    """Run the chosen cases for each library; returns sizes, raw figures, errors and ratios.

    ``scale`` defaults to ``NBSCHED_BENCH_SCALE`` (1.0); ``progress`` reports each figure on
    stderr as it is taken (the full-size run takes minutes). Errors are recorded per library and
    case as text so a missing or broken implementation never hides the other figures.
    """
    scale = default_scale() if scale is None else scale
    unknown = set(cases) - set(CASES)
    if unknown:
        raise ValueError(f"cases: unknown {sorted(unknown)}, choose from {list(CASES)}")
    sizes = sizes_for(scale)
    results: dict = {"scale": scale, "sizes": sizes, "cases": {}, "python": sys.version.split()[0],
                     "cpus": os.cpu_count()}
    loaded: dict[str, SimpleNamespace | str] = {}
    for prefix in libraries:
        try:
            loaded[prefix] = load(prefix)
        except Exception as exc:  # report, don't abort: the other library still gets measured
            loaded[prefix] = f"{type(exc).__name__}: {exc}"
    for case in cases:
        entry: dict = {"n": sizes[case], "target": TARGETS[case]}
        for prefix in libraries:
            lib = loaded[prefix]
            if isinstance(lib, str):
                entry[prefix] = {"error": lib}
                continue
            best: dict | None = None
            try:
                for _ in range(1 if case == "memory" else repeats):
                    figures = RUNNERS[case](lib, sizes[case])
                    if best is None or figures["seconds"] < best["seconds"]:
                        best = figures
            except Exception as exc:
                entry[prefix] = {"error": f"{type(exc).__name__}: {exc}"}
            else:
                entry[prefix] = best
            if progress:
                print(f"[bench_engine] {case} / {prefix}: {entry[prefix]}", file=sys.stderr,
                      flush=True)
            gc.collect()
        entry["speedup"] = _ratio(entry, "bytes_per_job" if case == "memory" else "seconds")
        results["cases"][case] = entry
    return results


def _ratio(entry: dict, key: str) -> float | None:
    theirs = entry.get("apscheduler", {}).get(key)
    ours = entry.get("nbsched", {}).get(key)
    if theirs is None or not ours:
        return None
    return theirs / ours


LABELS = {
    "add": "add {n:,} interval jobs (paused, memory store)",
    "dispatch": "dispatch {n:,} due jobs (debug executor)",
    "catchup": f"catch up {CATCHUP_JOBS} x 1 s jobs, {{n:,}} s behind, coalesce",
    "memory": "traced memory per job, {n:,} jobs",
}


def format_table(results: dict) -> str:
    """The results as a fixed-width text table (also used by run_all.py)."""

    def figure(case: str, value: dict) -> str:
        if "error" in value:
            return "error"
        if case == "memory":
            return f"{value['bytes_per_job']:,.0f} B"
        return f"{value['seconds'] * 1000:,.1f} ms"

    header = ("case", "APScheduler 3.11", "nbsched", "speed-up", "target")
    rows = []
    errors = []
    for case, entry in results["cases"].items():
        cells = [LABELS[case].format(n=entry["n"])]
        for prefix in LIBRARIES:
            value = entry.get(prefix, {"error": "not run"})
            cells.append(figure(case, value))
            if "error" in value:
                errors.append(f"{prefix} / {case}: {value['error']}")
        speedup = entry.get("speedup")
        cells.append("n/a" if speedup is None else f"{speedup:,.1f}x")
        target = entry["target"]
        cells.append("-" if target is None else f">= {target:g}x")
        rows.append(tuple(cells))
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths))
             for row in [header, tuple("-" * w for w in widths), *rows]]
    lines.append("")
    lines.append(
        f"Python {results['python']}, {results['cpus']} CPUs, scale {results['scale']:g}; "
        "speed-up = APScheduler / nbsched (memory: bytes per job ratio)."
    )
    lines.extend(f"error: {line}" for line in errors)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=None,
                        help="multiply every size (default: $NBSCHED_BENCH_SCALE or 1)")
    parser.add_argument("--cases", default=",".join(CASES),
                        help=f"comma-separated subset of {','.join(CASES)}")
    parser.add_argument("--libraries", default=",".join(LIBRARIES),
                        help="comma-separated subset of apscheduler,nbsched")
    parser.add_argument("--repeats", type=int, default=1, help="best of this many timing runs")
    args = parser.parse_args(argv)
    if args.scale is not None and args.scale <= 0:
        parser.error(f"--scale must be positive, got {args.scale}")
    results = run(
        scale=args.scale,
        cases=tuple(c for c in args.cases.split(",") if c),
        libraries=tuple(lib for lib in args.libraries.split(",") if lib),
        repeats=max(1, args.repeats),
        progress=True,
    )
    print(format_table(results))


if __name__ == "__main__":
    main()
