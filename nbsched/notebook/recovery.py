"""After a kernel restart: mark the dead kernel's unfinished runs abandoned, report missed runs.

Two facts are needed that the engine does not keep on its own:

* **Which runs were in flight when the kernel died.** A persistent store's run history only
  learns about a run when it ends. So each process keeps a small *run ledger* — a JSON file
  ``<data dir>/running/<host>-<pid>-<start>.json`` listing the runs submitted but not yet
  ended (only for jobs in persistent stores; memory-store jobs die with the kernel anyway).
  The file is rewritten on each submission and run end and deleted when nothing is in
  flight. On the next load, the files of processes that no longer exist are claimed
  (atomically renamed, so two kernels starting at once do not both claim them) and each
  listed run becomes an ``abandoned`` record in its store's history. Files of processes that
  are still alive — another notebook using the same store — are left alone, which is why a
  per-process ledger is used rather than "started" rows in the shared history.
* **How many runs were missed while no kernel was up.** The engine applies each job's
  misfire/coalesce policy when it first processes the job after start; it does not say how
  far behind the job was. :func:`recover` reads the stored jobs *before* that happens (call
  it on a scheduler started with ``paused=True``, then resume it) and prints one line per
  job that fell behind, once per kernel.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from nbsched.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
    EVENT_JOB_SUBMITTED,
)
from nbsched.history import RunRecord

__all__ = [
    "ABANDONED_REASON",
    "MissedRuns",
    "RecoveryReport",
    "RunLedger",
    "mark_abandoned",
    "missed_runs",
    "process_start_time",
    "recover",
]

_UTC = timezone.utc
_logger = logging.getLogger("nbsched.notebook.recovery")
ABANDONED_REASON = "the kernel running this job exited before the run finished"
_END_EVENTS = EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED


def process_start_time(pid: int | None = None) -> float | None:
    """When process ``pid`` (default: this one) started, as a Unix time; None if unknown."""
    pid = os.getpid() if pid is None else pid
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil comes with IPython on every platform we test
        psutil = None
    if psutil is not None:
        try:
            return psutil.Process(pid).create_time()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            return None
    try:  # pragma: no cover - fallback without psutil
        os.kill(pid, 0)
    except OSError:
        return None
    return time.time() if pid == os.getpid() else 0.0  # alive, start unknown


def _is_alive(pid: int, started: float | None) -> bool:
    """Is the process that wrote a ledger still running (and not a reused pid)?"""
    now_started = process_start_time(pid)
    if now_started is None:
        return False
    if started is None or now_started == 0.0:
        return True
    return abs(now_started - started) < 2.0


def _keeps_history(store: Any) -> bool:
    from nbsched.jobstores.base import BaseJobStore

    return type(store).record_run is not BaseJobStore.record_run


def store_identity(store: Any) -> str:
    """A text that names the same store in another process (its class and location)."""
    return repr(store)


def _ledger_dir(directory: Path | str | None) -> Path:
    if directory is not None:
        return Path(directory)
    from nbsched.store_url import data_dir

    return data_dir() / "running"


class RunLedger:
    """This process's list of runs submitted but not ended, kept in a file (see module doc).

    :param directory: where ledger files live (default ``<nbsched data dir>/running``)
    """

    def __init__(self, directory: Path | str | None = None) -> None:
        self.directory = _ledger_dir(directory)
        self.pid = os.getpid()
        self.started = process_start_time() or time.time()
        self.host = socket.gethostname()
        self.path = self.directory / f"{self.host}-{self.pid}-{int(self.started)}.json"
        self._runs: dict[tuple[str, str, float], dict[str, Any]] = {}
        #: runs whose end was seen before their submission (bounded: only races land here)
        self._ended_early: deque[tuple[str, str, float]] = deque(maxlen=1000)
        self._identities: dict[int, dict[str, str | None]] = {}
        self._lock = threading.Lock()
        self._schedulers: list[Any] = []

    # --- tracking ------------------------------------------------------------------------------

    def attach(self, scheduler: Any) -> None:
        """Track the runs of ``scheduler``'s persistent stores (idempotent)."""
        if any(s is scheduler for s in self._schedulers):
            return
        scheduler.add_listener(self._on_event, EVENT_JOB_SUBMITTED | _END_EVENTS)
        self._schedulers.append(scheduler)

    def detach(self, scheduler: Any) -> None:
        scheduler.remove_listener(self._on_event)
        self._schedulers = [s for s in self._schedulers if s is not scheduler]

    def _identity(self, alias: str | None) -> str | None:
        """The identity of the persistent store ``alias`` (None: not persistent / unknown)."""
        if alias is None:
            return None
        for scheduler in self._schedulers:
            cache = self._identities.setdefault(id(scheduler), {})
            if alias in cache:
                if cache[alias] is not None:
                    return cache[alias]
                continue
            store = getattr(scheduler, "_jobstores", {}).get(alias)
            ident = store_identity(store) if store is not None and _keeps_history(store) else None
            cache[alias] = ident
            if ident is not None:
                return ident
        return None

    def _on_event(self, event: Any) -> None:
        try:
            if event.code == EVENT_JOB_SUBMITTED:
                self.started_runs(event.job_id, event.jobstore, event.scheduled_run_times)
            else:
                self.ended_run(event.job_id, event.jobstore, event.scheduled_run_time)
        except Exception:
            _logger.exception("Could not update the run ledger %s", self.path)

    def started_runs(self, job_id: str, jobstore: str | None, run_times: list[datetime]) -> None:
        """Note runs handed to an executor (only jobs of persistent stores are noted)."""
        ident = self._identity(jobstore)
        if ident is None:
            return
        start = time.time()
        with self._lock:
            for run_time in run_times:
                key = (jobstore, job_id, run_time.timestamp())
                if key in self._ended_early:
                    # The submission event is published after the executor took the run, so
                    # a quick run can end before it is noted: it is not in flight any more.
                    self._ended_early.remove(key)
                    continue
                self._runs[key] = {
                    "store": ident,
                    "jobstore": jobstore,
                    "job_id": job_id,
                    "scheduled_time": run_time.timestamp(),
                    "submitted": start,
                }
            self._save()

    def ended_run(self, job_id: str, jobstore: str | None, run_time: datetime) -> None:
        key = (jobstore, job_id, run_time.timestamp())
        with self._lock:
            if self._runs.pop(key, None) is not None:
                self._save()
            elif self._identity(jobstore) is not None:
                self._ended_early.append(key)

    def in_flight(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(run) for run in self._runs.values()]

    def _save(self) -> None:
        """Rewrite the ledger file (atomically), or delete it when nothing is in flight."""
        if not self._runs:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            return
        payload = {
            "pid": self.pid,
            "host": self.host,
            "started": self.started,
            "runs": list(self._runs.values()),
        }
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(payload), encoding="utf-8")
        os.replace(tmp, self.path)


def _read_ledger(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("runs"), list):
        return None
    return data


def mark_abandoned(scheduler: Any, directory: Path | str | None = None,
                   own_ledger: RunLedger | None = None) -> list[RunRecord]:
    """Record an ``abandoned`` run for every in-flight run of a process that has died.

    Only runs of stores this scheduler has (same alias, same store) are recorded; the rest
    stay in the ledger for a kernel that uses their store.
    """
    folder = _ledger_dir(directory)
    if not folder.is_dir():
        return []
    host = socket.gethostname()
    own = own_ledger.path if own_ledger is not None else None
    stores = {
        alias: store for alias, store in getattr(scheduler, "_jobstores", {}).items()
        if _keeps_history(store)
    }
    identities = {alias: store_identity(store) for alias, store in stores.items()}
    recorded: list[RunRecord] = []
    for path in sorted(folder.glob("*.json")):
        if path == own:
            continue
        data = _read_ledger(path)
        if data is None or data.get("host") != host:
            continue  # another machine's kernel: we cannot tell whether it is alive
        if _is_alive(int(data.get("pid", -1)), data.get("started")):
            continue
        claimed = path.with_name(f"{path.name}.claim-{os.getpid()}")
        try:
            os.rename(path, claimed)
        except OSError:
            continue  # another kernel claimed it first
        remaining = []
        for run in data["runs"]:
            alias = run.get("jobstore")
            if alias not in stores or identities[alias] != run.get("store"):
                remaining.append(run)
                continue
            record = RunRecord(
                job_id=run["job_id"],
                jobstore=alias,
                scheduled_time=datetime.fromtimestamp(run["scheduled_time"], _UTC),
                start_time=datetime.fromtimestamp(run["submitted"], _UTC),
                end_time=None,
                outcome="abandoned",
                exception=ABANDONED_REASON,
            )
            try:
                stores[alias].record_run(record)
            except Exception:
                _logger.exception("Could not record an abandoned run of %r", run["job_id"])
                remaining.append(run)
                continue
            recorded.append(record)
        if remaining:
            data["runs"] = remaining
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(data), encoding="utf-8")
            os.replace(tmp, path)
        claimed.unlink(missing_ok=True)
    return recorded


@dataclass(frozen=True)
class MissedRuns:
    """How far behind one job was when the kernel came back, and what will run."""

    job_id: str
    name: str
    missed: int
    will_run: int
    coalesce: bool
    late_by: timedelta
    misfire_grace_time: float | None

    def describe(self) -> str:
        head = (f"job {self.job_id} missed {self.missed} run{'s' if self.missed != 1 else ''} "
                f"while the kernel was down; ")
        if self.will_run == 0:
            return head + (f"none ran (later than its misfire grace time of "
                           f"{self.misfire_grace_time:g} s)")
        if self.coalesce:
            return head + "ran once (coalesce)"
        return head + f"ran {self.will_run} (no coalesce)"


def missed_runs(scheduler: Any, since: float | None = None,
                now: datetime | None = None) -> list[MissedRuns]:
    """Jobs in persistent stores that were due before ``since`` (default: this process's start).

    Read the stores before the scheduler processes them (start it paused): once processed a
    job's next run time has moved on and its backlog is no longer visible.
    """
    since = process_start_time() if since is None else since
    if since is None:
        return []
    now = now or datetime.now(_UTC)
    max_catchup = getattr(scheduler, "max_catchup_runs", 1000)
    result: list[MissedRuns] = []
    for alias, store in list(getattr(scheduler, "_jobstores", {}).items()):
        if not _keeps_history(store):
            continue
        try:
            jobs = store.get_all_jobs()
        except Exception:
            _logger.exception("Could not read the jobs of store %r", alias)
            continue
        for job in jobs:
            first = job.next_run_time
            if first is None or first.timestamp() >= since or first > now:
                continue
            keep = 1 if job.coalesce else max_catchup
            try:
                run_times, total = job.trigger.fire_times_through(first, now, keep)
            except Exception:
                _logger.exception("Could not compute the missed runs of %r", job.id)
                continue
            grace = job.misfire_grace_time
            if grace is None:
                will_run = len(run_times)
            else:
                will_run = sum(1 for t in run_times if (now - t).total_seconds() <= grace)
            result.append(MissedRuns(
                job_id=job.id, name=job.name, missed=max(total, 1), will_run=will_run,
                coalesce=job.coalesce, late_by=now - first, misfire_grace_time=grace,
            ))
    return result


@dataclass
class RecoveryReport:
    """What :func:`recover` found: abandoned runs recorded and jobs that fell behind."""

    abandoned: list[RunRecord] = field(default_factory=list)
    missed: list[MissedRuns] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)


_ledgers: dict[str, RunLedger] = {}
_reported: set[tuple[str, str]] = set()
_state_lock = threading.Lock()


def recover(scheduler: Any, directory: Path | str | None = None,
            out: Callable[[str], Any] | None = print) -> RecoveryReport:
    """Start tracking runs, record the dead kernels' unfinished runs, report missed runs once.

    Call it from ``%load_ext`` on the kernel's scheduler after it started *paused* and
    before resuming it. Calling again is harmless: tracking is installed once, and a job's
    missed runs are reported once per kernel. ``out`` receives each report line (None: quiet).
    """
    folder = _ledger_dir(directory)
    with _state_lock:
        ledger = _ledgers.get(str(folder))
        if ledger is None:
            ledger = _ledgers[str(folder)] = RunLedger(folder)
    ledger.attach(scheduler)
    report = RecoveryReport()
    report.abandoned = mark_abandoned(scheduler, folder, ledger)
    by_job: dict[str, int] = {}
    for record in report.abandoned:
        by_job[record.job_id] = by_job.get(record.job_id, 0) + 1
    for job_id, count in by_job.items():
        report.lines.append(
            f"job {job_id}: {count} run{'s' if count != 1 else ''} left unfinished by a kernel "
            "that exited; recorded as abandoned"
        )
    for missed in missed_runs(scheduler, ledger.started):
        key = (str(folder), missed.job_id)
        with _state_lock:
            if key in _reported:
                continue
            _reported.add(key)
        report.missed.append(missed)
        report.lines.append(missed.describe())
    if out is not None:
        for line in report.lines:
            out(line)
    return report
