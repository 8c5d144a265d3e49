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
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import cloudpickle

from nbsched.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from nbsched.executors.base import error_events, format_exception_text, run_job

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
    try:
        events = run_job(job, jobstore_alias, run_times, logger_name)
    except BaseException as exc:
        logging.getLogger(logger_name).error("Job %s interrupted in worker", label)
        events = error_events(job_id, jobstore_alias, run_times, exc)
    return cloudpickle.dumps([_make_transferable(event) for event in events])


def load_events(data: bytes) -> list[JobExecutionEvent]:
    """Parent side: turn a worker's reply back into events."""
    return pickle.loads(data)
