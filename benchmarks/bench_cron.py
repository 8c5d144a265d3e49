"""Cron next-fire-time speed: nbsched vs APScheduler 3.11 vs croniter 7, in one process.

Each case computes successive fire times (each answer feeds the next call) in
Europe/Berlin, so DST transitions are crossed. nbsched and APScheduler use the keyword
form; croniter gets the equivalent crontab line (its extensions ``L5`` for "last Friday"
and a sixth seconds field for "every 10 s"). Every implementation must produce the same
number of answers for a case to count; the best of a few repeats is reported because
the machine is shared. ``run()`` returns the figures; running the module prints a table.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime
from zoneinfo import ZoneInfo

from nbsched.triggers.cron import CronTrigger

ZONE = ZoneInfo("Europe/Berlin")
START = datetime(2026, 1, 1, tzinfo=ZONE)
REPEATS = 3

# name, keyword form, crontab form for croniter (None = not expressible), answers
CASES: list[tuple[str, dict, str | None, int]] = [
    ("every 5 min", {"minute": "*/5"}, "*/5 * * * *", 2000),
    (
        "business hours",
        {"day_of_week": "mon-fri", "hour": "9-17", "minute": "*/15"},
        "*/15 9-17 * * mon-fri",
        2000,
    ),
    ("last fri", {"day": "last fri"}, "0 0 * * L5", 2000),
    ("feb 29", {"month": 2, "day": 29}, "0 0 29 2 *", 500),
    ("every 10 s", {"second": "*/10"}, "* * * * * */10", 2000),
    (
        "month list",
        {"month": "jan,apr,jul,oct", "day": 1, "hour": 6},
        "0 6 1 jan,apr,jul,oct *",
        2000,
    ),
]


def _keyword_run(trigger, count: int) -> float:
    began = time.perf_counter()
    previous, now = None, START
    for _ in range(count):
        previous = now = trigger.get_next_fire_time(previous, now)
    elapsed = time.perf_counter() - began
    if previous is None:
        raise RuntimeError(f"{trigger!r} ran out of fire times")
    return elapsed


def _croniter_run(expr: str, count: int) -> float:
    from croniter import croniter

    # croniter's get_next is strictly after the start; start a second early.
    iterator = croniter(expr, START.timestamp() - 1)
    began = time.perf_counter()
    for _ in range(count):
        iterator.get_next(datetime)
    return time.perf_counter() - began


def _best(fn, *args) -> float:
    return min(fn(*args) for _ in range(REPEATS))


def run() -> dict:
    """Time every case with every implementation; seconds per case and totals."""
    from apscheduler.triggers.cron import CronTrigger as ApsCronTrigger

    results: dict = {"cases": {}, "totals": {}, "ratios": {}}
    totals = {"nbsched": 0.0, "apscheduler": 0.0, "croniter": 0.0, "nbsched_vs_croniter": 0.0}
    for name, kwargs, crontab, count in CASES:
        ours = _best(_keyword_run, CronTrigger(timezone=ZONE, **kwargs), count)
        theirs = _best(_keyword_run, ApsCronTrigger(timezone=ZONE, **kwargs), count)
        cron = _best(_croniter_run, crontab, count) if crontab else None
        results["cases"][name] = {
            "answers": count,
            "nbsched": ours,
            "apscheduler": theirs,
            "croniter": cron,
        }
        totals["nbsched"] += ours
        totals["apscheduler"] += theirs
        if cron is not None:
            totals["croniter"] += cron
            totals["nbsched_vs_croniter"] += ours
    results["totals"] = totals
    results["ratios"] = {
        "apscheduler/nbsched": totals["apscheduler"] / totals["nbsched"],
        "croniter/nbsched": totals["croniter"] / totals["nbsched_vs_croniter"],
    }
    return results


def _print(results: dict) -> None:
    def ms(value: float | None) -> str:
        return "n/a" if value is None else f"{value * 1000:.1f}"

    def ratio(a: float | None, b: float) -> str:
        return "n/a" if a is None else f"{a / b:.1f}x"

    header = ("case", "answers", "nbsched ms", "APScheduler ms", "croniter ms", "APS/nb", "cron/nb")
    rows = [
        (
            name,
            str(r["answers"]),
            ms(r["nbsched"]),
            ms(r["apscheduler"]),
            ms(r["croniter"]),
            ratio(r["apscheduler"], r["nbsched"]),
            ratio(r["croniter"], r["nbsched"]),
        )
        for name, r in results["cases"].items()
    ]
    t = results["totals"]
    rows.append(
        (
            "total",
            "",
            ms(t["nbsched"]),
            ms(t["apscheduler"]),
            ms(t["croniter"]),
            f"{results['ratios']['apscheduler/nbsched']:.1f}x",
            f"{results['ratios']['croniter/nbsched']:.1f}x",
        )
    )
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)))
    print(f"\nPython {sys.version.split()[0]}, best of {REPEATS}, zone {ZONE.key}")


if __name__ == "__main__":
    _print(run())
