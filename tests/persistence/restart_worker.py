"""A scheduler process for the restart tests (run as a script, so its jobs live in ``__main__``).

Usage: ``python restart_worker.py PHASE STORE_JSON RUNS_FILE [START_EPOCH INTERVAL GRACE]``

* ``define`` — defines the job function here in ``__main__``, adds two interval jobs to the
  store (``coalescing``: coalesce, no grace limit; ``strict``: no coalescing, a short grace
  time), starts the scheduler and runs until killed.
* ``resume`` — does *not* define the function: it opens the same store, starts a scheduler and
  runs until killed. Whatever runs here was restored from the stored record.

Every execution/miss/error is printed to stdout as one JSON line (the test reads them as they
come); the job function itself appends ``label pid time`` to RUNS_FILE.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from datetime import datetime, timezone
from typing import Any

from nbsched.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED
from nbsched.schedulers.background import BackgroundScheduler

_CODES = {EVENT_JOB_EXECUTED: "executed", EVENT_JOB_MISSED: "missed", EVENT_JOB_ERROR: "error"}
_out_lock = threading.Lock()


def emit(**fields: Any) -> None:
    line = json.dumps({"pid": os.getpid(), **fields})
    with _out_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


if __name__ == "__main__" and sys.argv[1:2] == ["define"]:
    # A module-level function of __main__, defined only in the first process.
    def record_run(path: str, label: str) -> None:
        """Append one line per run: which job, in which process, when."""
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, f"{label} {os.getpid()} {time.time():.6f}\n".encode())
        finally:
            os.close(fd)


def make_store(spec: dict[str, Any]) -> Any:
    kind = spec.pop("kind")
    if kind == "sqlalchemy":
        from nbsched.jobstores.sqlalchemy import SQLAlchemyJobStore

        return SQLAlchemyJobStore(**spec)
    if kind == "redis":
        from nbsched.jobstores.redis import RedisJobStore

        return RedisJobStore(**spec)
    raise ValueError(f"unknown store kind {kind!r}")


def listener(event: Any) -> None:
    def ts(value: datetime | None) -> float | None:
        return None if value is None else value.timestamp()

    emit(
        event=_CODES.get(event.code, str(event.code)),
        job=event.job_id,
        scheduled=ts(event.scheduled_run_time),
        start=ts(getattr(event, "start_time", None)),
        exception=None if event.exception is None else repr(event.exception),
    )


def main() -> None:
    phase, store_json, runs_file = sys.argv[1:4]
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.add_jobstore(make_store(json.loads(store_json)), "default")
    scheduler.add_listener(listener, EVENT_JOB_EXECUTED | EVENT_JOB_MISSED | EVENT_JOB_ERROR)

    if phase == "define":
        start_epoch, interval, grace = (float(x) for x in sys.argv[4:7])

        start = datetime.fromtimestamp(start_epoch, timezone.utc)
        common = {"trigger": "interval", "seconds": interval, "start_date": start}
        scheduler.add_job(
            record_run,  # defined above, in this phase only
            id="coalescing", args=(runs_file, "coalescing"), coalesce=True,
            misfire_grace_time=None, **common,
        )
        scheduler.add_job(
            record_run,
            id="strict", args=(runs_file, "strict"), coalesce=False,
            misfire_grace_time=grace, **common,
        )
    elif phase != "resume":
        raise SystemExit(f"unknown phase {phase!r}")

    scheduler.start()
    emit(event="started", at=time.time(), jobs=sorted(job.id for job in scheduler.get_jobs()))
    threading.Event().wait()  # until killed


if __name__ == "__main__":
    main()
