"""``nbsched.progress(done, total, message=None)``: a running job says how far along it is.

The call finds *which* run it belongs to through :func:`nbsched.runcontext.current_run`
(a context variable the executors set around the job's call), so it works unchanged in a
pool thread, in a coroutine job on the kernel's loop and in a process-pool worker.

Where the report goes:

* In the scheduler's own process (thread and asyncio jobs) it lands in the in-memory
  :data:`registry`, which the job panel reads once a second.
* A process-pool worker has no way to reach that memory, and the executors' result channel
  only carries a run's events *after* it ends. So a worker writes each report to a tiny
  per-run file in a per-user directory (:func:`progress_dir`; ``NBSCHED_PROGRESS_DIR``
  overrides it), replaced atomically and at most every :data:`FILE_WRITE_INTERVAL`
  seconds (plus the final ``done == total`` report). The file is named after the job id and
  the run's scheduled time — both known to the parent from ``EVENT_JOB_SUBMITTED`` — so the
  parent needs no handshake with the worker: :meth:`ProgressRegistry.poll_files` reads the
  files of the runs it knows are running, and :meth:`ProgressRegistry.finish` deletes them
  when the run ends. No change to the executors was needed.

Outside a job run ``progress()`` does nothing, so a job function can be tried in a cell.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import sys
import tempfile
import threading
import time
import types
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from numbers import Real
from pathlib import Path

from nbsched.runcontext import current_run

__all__ = [
    "FILE_WRITE_INTERVAL",
    "Progress",
    "ProgressRegistry",
    "progress",
    "progress_dir",
    "registry",
]

_logger = logging.getLogger("nbsched.progress")

#: Seconds between two file writes of one run in a worker process (the panel reads once a
#: second; writing more often would only cost the job time).
FILE_WRITE_INTERVAL = 0.2
#: Runs remembered at most (oldest forgotten first) when nobody calls ``finish``.
MAX_RUNS = 1000
#: Longest message kept.
MESSAGE_LIMIT = 200


@dataclass(frozen=True)
class Progress:
    """The latest progress report of one run.

    :ivar job_id: the job
    :ivar scheduled_time: the fire time of the run
    :ivar done: units done so far
    :ivar total: units in all
    :ivar message: optional short text ("file 3 of 10")
    :ivar updated: ``time.time()`` of the report
    """

    job_id: str
    scheduled_time: datetime
    done: float
    total: float
    message: str | None
    updated: float

    @property
    def fraction(self) -> float:
        """``done / total`` between 0 and 1."""
        return min(1.0, max(0.0, self.done / self.total))


def progress_dir() -> Path:
    """Where process-pool workers leave their progress files (one directory per user)."""
    given = os.environ.get("NBSCHED_PROGRESS_DIR")
    if given:
        return Path(given)
    try:
        user = str(os.getuid())
    except AttributeError:  # pragma: no cover - Windows
        user = os.environ.get("USERNAME", "user")
    return Path(tempfile.gettempdir()) / f"nbsched-progress-{user}"


def run_file_name(job_id: str, scheduled_time: datetime) -> str:
    """The progress file name of one run: job id digest + scheduled time in microseconds."""
    digest = hashlib.sha1(job_id.encode("utf-8", "surrogatepass")).hexdigest()[:20]
    stamp = round(scheduled_time.timestamp() * 1_000_000)
    return f"{digest}-{stamp}.json"


def _in_worker_process() -> bool:
    """True in a ``multiprocessing`` child (a process-pool worker)."""
    return multiprocessing.parent_process() is not None


class ProgressRegistry:
    """Latest progress per run, thread-safe; read by the panel.

    ``version`` grows with every change, so a reader can tell in O(1) whether anything
    happened since it last looked.
    """

    def __init__(self, max_runs: int = MAX_RUNS) -> None:
        self._runs: OrderedDict[tuple[str, datetime], Progress] = OrderedDict()
        self._lock = threading.Lock()
        self._max_runs = max_runs
        self._file_stamps: dict[tuple[str, datetime], float] = {}
        self.version = 0

    def report(self, item: Progress) -> None:
        """Store ``item`` as its run's latest report."""
        key = (item.job_id, item.scheduled_time)
        with self._lock:
            self._runs[key] = item
            self._runs.move_to_end(key)
            while len(self._runs) > self._max_runs:
                self._runs.popitem(last=False)
            self.version += 1

    def get(self, job_id: str, scheduled_time: datetime | None = None) -> Progress | None:
        """The run's latest report; without ``scheduled_time`` the job's most recent one."""
        with self._lock:
            if scheduled_time is not None:
                return self._runs.get((job_id, scheduled_time))
            for (key_job, _), item in reversed(self._runs.items()):
                if key_job == job_id:
                    return item
        return None

    def finish(self, job_id: str, scheduled_time: datetime) -> None:
        """The run ended: forget it and delete its worker file, if any."""
        key = (job_id, scheduled_time)
        with self._lock:
            if self._runs.pop(key, None) is not None:
                self.version += 1
            self._file_stamps.pop(key, None)
        try:
            (progress_dir() / run_file_name(job_id, scheduled_time)).unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:  # pragma: no cover - permissions, read-only tmp
            _logger.debug("Could not delete progress file of %s: %s", job_id, exc)

    def poll_files(self, runs: Iterable[tuple[str, datetime]]) -> int:
        """Read worker files of ``runs`` (job id, scheduled time) that changed; count updates.

        One ``stat`` per run and a read only when the file is newer than the last one read,
        so polling the running runs once a second costs next to nothing.
        """
        folder = progress_dir()
        updated = 0
        for job_id, scheduled_time in runs:
            path = folder / run_file_name(job_id, scheduled_time)
            try:
                mtime = path.stat().st_mtime_ns
            except OSError:
                continue
            key = (job_id, scheduled_time)
            if self._file_stamps.get(key) == mtime:
                continue
            try:
                data = json.loads(path.read_text("utf-8"))
                item = Progress(job_id, scheduled_time, float(data["done"]),
                                float(data["total"]), data.get("message"),
                                float(data["updated"]))
            except (OSError, ValueError, KeyError, TypeError):
                continue  # half-written by a foreign writer, or gone: next tick
            self._file_stamps[key] = mtime
            self.report(item)
            updated += 1
        return updated

    def clear(self) -> None:
        """Forget everything (tests)."""
        with self._lock:
            self._runs.clear()
            self._file_stamps.clear()
            self.version += 1

    def __len__(self) -> int:
        return len(self._runs)


#: The process's registry (the panel reads it).
registry = ProgressRegistry()

_last_write: dict[tuple[str, datetime], float] = {}
_write_lock = threading.Lock()


def _write_file(item: Progress, force: bool) -> None:
    key = (item.job_id, item.scheduled_time)
    now = time.monotonic()
    with _write_lock:
        last = _last_write.get(key)
        if not force and last is not None and now - last < FILE_WRITE_INTERVAL:
            return
        _last_write[key] = now
        if len(_last_write) > MAX_RUNS:
            _last_write.pop(next(iter(_last_write)))
    folder = progress_dir()
    name = run_file_name(item.job_id, item.scheduled_time)
    payload = json.dumps({"job_id": item.job_id, "done": item.done, "total": item.total,
                          "message": item.message, "updated": item.updated})
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = folder / f".{name}.{os.getpid()}.{threading.get_ident()}.tmp"
        tmp.write_text(payload, "utf-8")
        os.replace(tmp, folder / name)
    except OSError as exc:
        _logger.debug("Could not write progress file %s: %s", name, exc)


def _number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name}: expected a number, got {value!r}")
    number = float(value)
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError(f"{name}: {value!r}: must be a finite number")
    return number


def progress(done: float, total: float, message: str | None = None) -> Progress | None:
    """Report that the current job run has done ``done`` of ``total`` units.

    Call it as often as you like from a job (thread, coroutine or process-pool worker); the
    panel shows the latest report as a progress bar while the run lasts. Returns the stored
    report, or None when called outside a job run (then it does nothing).

    :raises TypeError: if ``done``/``total`` are not numbers or ``message`` is not a str
    :raises ValueError: if ``total`` is not positive or ``done`` is outside ``0..total``
    """
    done_f = _number("done", done)
    total_f = _number("total", total)
    if total_f <= 0:
        raise ValueError(f"total: {total!r}: must be greater than 0")
    if done_f < 0 or done_f > total_f:
        raise ValueError(f"done: {done!r}: must be between 0 and total ({total!r})")
    if message is not None:
        if not isinstance(message, str):
            raise TypeError(f"message: expected a str or None, got {message!r}")
        if len(message) > MESSAGE_LIMIT:
            message = message[: MESSAGE_LIMIT - 1] + "…"
    run = current_run()
    if run is None:
        return None
    item = Progress(run.job_id, run.scheduled_time, done_f, total_f, message, time.time())
    registry.report(item)
    if _in_worker_process():
        _write_file(item, force=done_f >= total_f)
    return item


class _CallableModule(types.ModuleType):
    """Lets ``nbsched.progress(...)`` work although ``nbsched.progress`` is this module.

    Once anything imports ``nbsched.progress`` the import system binds the *module* to the
    package attribute of that name, shadowing a function export; making the module itself
    callable keeps ``nbsched.progress(done, total)`` right in every import order.
    """

    def __call__(self, done: float, total: float, message: str | None = None) -> Progress | None:
        return progress(done, total, message)


sys.modules[__name__].__class__ = _CallableModule
