"""What crosses the process boundary for a process-pool run, in both directions.

Outbound, the job's callable and arguments are packed with cloudpickle, which sends
importable functions by reference and everything else (functions defined in ``__main__``
or a notebook cell, lambdas, closures, partials of those) by value. The job's identity and
run times travel unpickled beside the packed call, so a call that fails to load in the
worker can still be reported as an error for the right job and run times.

Inbound, the worker returns the run's events as bytes it has already proven to load:
a return value that cannot make the trip turns the run into an error saying so, and an
exception that cannot make it is replaced by :class:`RemoteJobError`, which carries the
original type name, message and traceback text.
"""

from __future__ import annotations

import logging
import pickle
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import cloudpickle

from nbsched.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from nbsched.executors.base import error_events, format_exception_text, run_job
from nbsched.runcontext import current_run

__all__ = [
    "RemoteJobError",
    "ResultNotTransferableError",
    "WorkerCrashedError",
    "load_events",
    "pack_call",
    "run_packed_call",
]


class RemoteJobError(Exception):
    """Stand-in for an exception raised in a worker process that could not be sent back.

    :ivar type_name: qualified name of the original exception's type
    :ivar message: ``str()`` of the original exception
    :ivar traceback_text: the formatted traceback from the worker
    """

    def __init__(self, type_name: str, message: str, traceback_text: str) -> None:
        super().__init__(type_name, message, traceback_text)
        self.type_name = type_name
        self.message = message
        self.traceback_text = traceback_text

    def __str__(self) -> str:
        return (
            f"{self.type_name}: {self.message} (the original exception could not be "
            "sent back from the worker process)"
        )


class ResultNotTransferableError(Exception):
    """A job in a worker process returned a value that cannot be sent back to the scheduler."""


class WorkerCrashedError(Exception):
    """The worker process died while the run was in progress or queued behind it."""


@dataclass
class _JobView:
    """Just enough of a job for :func:`run_job` inside the worker."""

    id: str
    label: str
    func: Any
    args: Sequence[Any]
    kwargs: dict[str, Any]
    misfire_grace_time: float | None

    def __str__(self) -> str:
        return self.label


def pack_call(job: Any) -> bytes:
    """Serialize the job's callable, arguments, label and grace time for a worker.

    :raises Exception: whatever cloudpickle raises for an argument that cannot be pickled
        (a lock, an open socket); the caller reports it as the run's error
    """
    return cloudpickle.dumps(
        (str(job), job.func, tuple(job.args), dict(job.kwargs), job.misfire_grace_time)
    )


def _type_name(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def _round_trip(value: Any) -> str | None:
    """Return why ``value`` would not survive the trip back (None when it would)."""
    try:
        pickle.loads(cloudpickle.dumps(value))
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def _make_transferable(event: JobExecutionEvent) -> JobExecutionEvent:
    if event.code == EVENT_JOB_EXECUTED and event.retval is not None:
        reason = _round_trip(event.retval)
        if reason is not None:
            exc = ResultNotTransferableError(
                f"job {event.job_id!r} returned a {_type_name(event.retval)} that cannot be "
                f"sent back from the worker process ({reason}); return plain data instead"
            )
            event.code = EVENT_JOB_ERROR
            event.retval = None
            event.exception = exc
            event.traceback = format_exception_text(exc)
    elif event.exception is not None and _round_trip(event.exception) is not None:
        event.exception = RemoteJobError(
            _type_name(event.exception), str(event.exception), event.traceback or ""
        )
    return event


def run_packed_call(
    job_id: str,
    jobstore_alias: str | None,
    run_times: Sequence[datetime],
    logger_name: str,
    packed: bytes,
) -> bytes:
    """Worker-side entry point: load the call, run it per run time, return portable events.

    Never raises for anything the job does: a call that cannot be loaded, a job that raises
    (even ``KeyboardInterrupt``) or returns something unpicklable all come back as events.
    """
    try:
        label, func, args, kwargs, grace = pickle.loads(packed)
    except BaseException as exc:
        error = RuntimeError(
            f"job {job_id!r} could not be loaded in the worker process "
            f"({type(exc).__name__}: {exc}); is its module importable there?"
        )
        error.__cause__ = exc
        events = error_events(job_id, jobstore_alias, run_times, error)
        for event in events:
            event.exception = RemoteJobError("RuntimeError", str(error), event.traceback or "")
        return cloudpickle.dumps(events)

    job = _JobView(job_id, label, func, args, kwargs, grace)
    collector = _WorkerOutput()
    try:
        with collector:
            events = run_job(job, jobstore_alias, run_times, logger_name)
    except BaseException as exc:
        logging.getLogger(logger_name).error("Job %s interrupted in worker", label)
        events = error_events(job_id, jobstore_alias, run_times, exc)
    collector.attach(events)
    return cloudpickle.dumps([_make_transferable(event) for event in events])


#: How worker-side log records are rendered (the stdlib's ``basicConfig`` layout).
LOG_FORMAT = "%(levelname)s:%(name)s:%(message)s"


class _WorkerStream:
    """A stand-in ``sys.stdout``/``sys.stderr`` that records what a job writes."""

    def __init__(self, owner: _WorkerOutput, name: str, original: Any) -> None:
        self._owner = owner
        self._name = name
        self._original = original

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        self._owner.add(self._name, text)
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._original, name)


class _WorkerLogHandler(logging.Handler):
    def __init__(self, owner: _WorkerOutput) -> None:
        super().__init__()
        self._owner = owner
        self.setFormatter(logging.Formatter(LOG_FORMAT))

    def emit(self, record: logging.LogRecord) -> None:
        # The engine's own records (``nbsched.*``) describe the run; events carry that.
        if record.name.startswith("nbsched."):
            return
        try:
            text = self.format(record)
        except Exception:
            text = str(record.msg)
        self._owner.add("log", text + "\n")


class _WorkerOutput:
    """Capture a process-pool run's output in the worker so it can travel back.

    A worker process has no notebook to print into (its stdout is the terminal that started
    Jupyter), so while the job runs its ``sys.stdout``/``sys.stderr`` are swapped for
    recorders and a handler on the root logger collects its log records. Each piece is
    tagged with the scheduled time of the run current when it was written, and
    :meth:`attach` hands every event its own run's pieces as ``event.output``: a list of
    ``(unix_time, stream, text)`` with stream ``"stdout"``, ``"stderr"`` or ``"log"``.
    """

    def __init__(self) -> None:
        self._pieces: list[tuple[float, Any, str, str]] = []

    def add(self, stream: str, text: str) -> None:
        if not text:
            return
        run = current_run()
        key = run.scheduled_time if run is not None else None
        pieces = self._pieces
        if pieces and pieces[-1][1] == key and pieces[-1][2] == stream:
            stamp, _, _, previous = pieces[-1]
            pieces[-1] = (stamp, key, stream, previous + text)  # one entry per burst
        else:
            pieces.append((time.time(), key, stream, text))

    def __enter__(self) -> _WorkerOutput:
        self._saved = (sys.stdout, sys.stderr)
        sys.stdout = _WorkerStream(self, "stdout", sys.stdout)
        sys.stderr = _WorkerStream(self, "stderr", sys.stderr)
        self._handler = _WorkerLogHandler(self)
        logging.getLogger().addHandler(self._handler)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        logging.getLogger().removeHandler(self._handler)
        sys.stdout, sys.stderr = self._saved

    def attach(self, events: Sequence[JobExecutionEvent]) -> None:
        if not self._pieces or not events:
            return
        by_time: dict[Any, list[tuple[float, str, str]]] = {}
        for stamp, key, stream, text in self._pieces:
            by_time.setdefault(key, []).append((stamp, stream, text))
        unclaimed = by_time.pop(None, [])
        for event in events:
            output = by_time.pop(event.scheduled_run_time, None)
            if output or unclaimed:
                event.output = [*unclaimed, *(output or [])]
                unclaimed = []


def load_events(data: bytes) -> list[JobExecutionEvent]:
    """Parent side: turn a worker's reply back into events."""
    return pickle.loads(data)
