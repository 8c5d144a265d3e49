"""Firing lateness in a live kernel: actual start minus scheduled time of 1-second jobs.

A real ipykernel is started through ``jupyter_client`` with a private data directory (the
kernel scheduler's default SQLite store lives there), ``%load_ext nbsched`` is run, and
``--jobs`` thread-pool jobs firing every second are scheduled (offset from each other so they
do not share a fire time). Lateness is read from the run history
(``start_time - scheduled_time``) in three phases of ``--seconds`` each:

``idle``        the kernel does nothing;
``busy-sleep``  a cell runs ``time.sleep(seconds)`` (the kernel's asyncio loop is blocked,
                the GIL is free);
``busy-cpu``    a cell spins a pure-Python loop for ``seconds`` (the loop is blocked *and* the
                GIL is contended: the timing thread must wait for its turn, which CPython
                hands over every ``sys.getswitchinterval()`` = 5 ms).

Run ``python benchmarks/bench_lateness.py`` (one minute per phase) or with ``--seconds 10``
for a quick look; ``run()`` returns the numbers as a dict.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PHASES = ("idle", "busy-sleep", "busy-cpu")
STORES = ("default", "memory")
TARGET_P99_IDLE_MS = 2.0

SETUP = """
%load_ext nbsched
import json as _json, time as _time
from datetime import datetime as _dt, timedelta as _td, timezone as _tz
import nbsched as _nbsched
_sched = _nbsched.get_scheduler()

def _bench_tick():
    pass
"""

START_JOBS = """
_start = _dt.now(_tz.utc).replace(microsecond=0) + _td(seconds=2)
_ids = []
for _i in range({jobs}):
    _job = _sched.add_job(_bench_tick, "interval", seconds=1, id=f"lateness-{phase}-{{_i}}",
                          start_date=_start + _td(seconds=_i / {jobs}), misfire_grace_time=None,
                          end_date=_start + _td(seconds={seconds}), replace_existing=True,
                          jobstore="{store}")
    _ids.append(_job.id)
print(_json.dumps({{"start": _start.timestamp()}}))
"""

COLLECT = """
_late = []
for _id in _ids:
    for _r in _sched.get_run_history(_id, limit=100000):
        if _r.outcome == "ok":
            _late.append((_r.start_time - _r.scheduled_time).total_seconds())
    try:
        _sched.remove_job(_id)
    except Exception:
        pass
print(_json.dumps(_late))
"""

BUSY = {
    "idle": None,
    "busy-sleep": "_time.sleep({wait})",
    "busy-cpu": (
        "_end = _time.perf_counter() + {wait}\nwhile _time.perf_counter() < _end:\n    pass"
    ),
}


class Kernel:
    """A kernel with a private nbsched data directory, driven through jupyter_client."""

    def __init__(self, data_dir: Path) -> None:
        from jupyter_client.manager import start_new_kernel

        env = dict(os.environ)
        env.update({
            "NBSCHED_DATA_DIR": str(data_dir),
            "NBSCHED_STORE_URL": f"sqlite:///{(data_dir / 'jobs.sqlite').as_posix()}",
            "NBSCHED_SECRET_KEY": env.get("NBSCHED_SECRET_KEY") or secrets.token_hex(16),
            "IPYTHONDIR": str(data_dir / "ipython"),
            "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p),
        })
        self.km, self.kc = start_new_kernel(kernel_name="python3", env=env, cwd=str(data_dir),
                                            startup_timeout=60)

    def run(self, code: str, timeout: float = 600) -> str:
        """Run a cell; return its stdout; raise with the traceback if it failed."""
        msg_id = self.kc.execute(code)
        out: list[str] = []
        deadline = time.monotonic() + timeout
        while True:
            msg = self.kc.get_iopub_msg(timeout=max(deadline - time.monotonic(), 0.1))
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream" and content["name"] == "stdout":
                out.append(content["text"])
            elif kind == "error":
                raise RuntimeError("cell failed:\n" + "\n".join(content["traceback"]))
            elif kind == "status" and content["execution_state"] == "idle":
                return "".join(out)

    def shutdown(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of ``values``."""
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[index]


def measure_phase(
    kernel: Kernel, phase: str, seconds: float, jobs: int, store: str = "default"
) -> list[float]:
    """Schedule the jobs, keep the kernel idle or busy for ``seconds``, return lateness (s)."""
    started = json.loads(
        kernel.run(START_JOBS.format(jobs=jobs, seconds=seconds, phase=phase, store=store))
    )
    # Cover the whole window of fire times: from now until the last one, plus a margin.
    wait = started["start"] + seconds + 0.5 - time.time()
    busy = BUSY[phase]
    if busy is None:
        time.sleep(max(wait, 0))
    else:
        kernel.run(busy.format(wait=max(wait, 0)))
    return json.loads(kernel.run(COLLECT))


def summarize(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"runs": 0, "p50_ms": None, "p99_ms": None, "max_ms": None}
    ms = [v * 1000 for v in values]
    return {
        "runs": len(ms),
        "p50_ms": round(statistics.median(ms), 3),
        "p99_ms": round(percentile(ms, 99), 3),
        "max_ms": round(max(ms), 3),
    }


def run(seconds: float = 60, jobs: int = 3, phases: tuple[str, ...] = PHASES,
        store: str = "default", switch_interval: float | None = None) -> dict[str, Any]:
    """Measure every phase in one fresh kernel; return ``{phase: {runs, p50_ms, ...}}``.

    ``store`` is the kernel scheduler's store the jobs go to: ``default`` (the persistent
    SQLite store a notebook user gets) or ``memory``. ``switch_interval`` sets the kernel's
    ``sys.setswitchinterval`` (how long a CPU-bound cell may hold the GIL; CPython's 5 ms).
    """
    if store not in STORES:
        raise ValueError(f"store: {store!r}: choose from {', '.join(STORES)}")
    unknown = [p for p in phases if p not in PHASES]
    if unknown:
        raise ValueError(f"phases: unknown {unknown!r}; choose from {', '.join(PHASES)}")
    if seconds < 1:
        raise ValueError(f"seconds: {seconds!r}: must be at least 1")
    with tempfile.TemporaryDirectory(prefix="nbsched-lateness-") as tmp:
        data_dir = Path(tmp)
        (data_dir / "ipython").mkdir()
        kernel = Kernel(data_dir)
        try:
            kernel.run(SETUP)
            if switch_interval is not None:
                kernel.run(f"import sys as _sys; _sys.setswitchinterval({switch_interval!r})")
            results = {phase: summarize(measure_phase(kernel, phase, seconds, jobs, store))
                       for phase in phases}
        finally:
            kernel.shutdown()
    return {"seconds": seconds, "jobs": jobs, "store": store,
            "switch_interval": switch_interval, "phases": results,
            "target_p99_idle_ms": TARGET_P99_IDLE_MS}


def table(result: dict[str, Any]) -> str:
    lines = [
        f"Firing lateness, {result['jobs']} x 1-second thread jobs, "
        f"{result['seconds']:g} s per phase (live kernel, {result['store']} store"
        + (f", switch interval {result['switch_interval']:g} s" if result.get("switch_interval")
           else "") + ")",
        "",
        "| phase | runs | p50 (ms) | p99 (ms) | max (ms) |",
        "|---|---:|---:|---:|---:|",
    ]
    for phase, row in result["phases"].items():
        lines.append(f"| {phase} | {row['runs']} | {row['p50_ms']} | {row['p99_ms']} | "
                     f"{row['max_ms']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60, help="length of each phase")
    parser.add_argument("--jobs", type=int, default=3, help="number of 1-second jobs")
    parser.add_argument("--phases", default=",".join(PHASES), help="comma-separated phases")
    parser.add_argument("--store", choices=STORES, default="default",
                        help="kernel scheduler store for the jobs (default: the SQLite one)")
    parser.add_argument("--switch-interval", type=float, default=None,
                        help="sys.setswitchinterval() in the kernel (CPython default 0.005)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    result = run(args.seconds, args.jobs, tuple(p for p in args.phases.split(",") if p),
                 args.store, args.switch_interval)
    print(json.dumps(result, indent=2) if args.json else table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
