"""Event codes and event classes published by schedulers, stores and executors.

Codes are bit flags with the same values as APScheduler 3, so listener masks written
for APScheduler keep working. Event objects carry the same attributes APScheduler's do;
execution events add ``start_time`` and ``end_time`` so run history needs no second
source of truth.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

__all__ = [
    "EVENT_ALL",
    "EVENT_ALL_JOBS_REMOVED",
    "EVENT_EXECUTOR_ADDED",
    "EVENT_EXECUTOR_REMOVED",
    "EVENT_JOBSTORE_ADDED",
    "EVENT_JOBSTORE_REMOVED",
    "EVENT_JOB_ADDED",
    "EVENT_JOB_ERROR",
    "EVENT_JOB_EXECUTED",
    "EVENT_JOB_MAX_INSTANCES",
    "EVENT_JOB_MISSED",
    "EVENT_JOB_MODIFIED",
    "EVENT_JOB_REMOVED",
    "EVENT_JOB_SUBMITTED",
    "EVENT_SCHEDULER_PAUSED",
    "EVENT_SCHEDULER_RESUMED",
    "EVENT_SCHEDULER_SHUTDOWN",
    "EVENT_SCHEDULER_START",
    "EVENT_SCHEDULER_STARTED",
    "JobEvent",
    "JobExecutionEvent",
    "JobSubmissionEvent",
    "SchedulerEvent",
    "event_name",
]

EVENT_SCHEDULER_STARTED = EVENT_SCHEDULER_START = 1 << 0
EVENT_SCHEDULER_SHUTDOWN = 1 << 1
EVENT_SCHEDULER_PAUSED = 1 << 2
EVENT_SCHEDULER_RESUMED = 1 << 3
EVENT_EXECUTOR_ADDED = 1 << 4
EVENT_EXECUTOR_REMOVED = 1 << 5
EVENT_JOBSTORE_ADDED = 1 << 6
EVENT_JOBSTORE_REMOVED = 1 << 7
EVENT_ALL_JOBS_REMOVED = 1 << 8
EVENT_JOB_ADDED = 1 << 9
EVENT_JOB_REMOVED = 1 << 10
EVENT_JOB_MODIFIED = 1 << 11
EVENT_JOB_EXECUTED = 1 << 12
EVENT_JOB_ERROR = 1 << 13
EVENT_JOB_MISSED = 1 << 14
EVENT_JOB_SUBMITTED = 1 << 15
EVENT_JOB_MAX_INSTANCES = 1 << 16

# Code -> constant name, for readable reprs and logs. Private and not named ``EVENT_*`` on
# purpose: programs written for APScheduler enumerate ``EVENT_*`` attributes of this module and
# expect every one of them to be an int code.
_CODE_NAMES: dict[int, str] = {
    value: name
    for name, value in sorted(globals().items())
    if name.startswith("EVENT_") and isinstance(value, int) and name != "EVENT_SCHEDULER_START"
}

EVENT_ALL = 0
for _code in _CODE_NAMES:
    EVENT_ALL |= _code
del _code


def event_name(code: int) -> str:
    """The constant name for an event ``code`` (``"EVENT_JOB_EXECUTED"``), or the number."""
    return _CODE_NAMES.get(code, str(code))


class SchedulerEvent:
    """Something happened to the scheduler itself (or to one of its stores/executors).

    :ivar code: the event's type code
    :ivar alias: alias of the store or executor added or removed, if that is the event
    """

    # Slots: events are built per run on the dispatch hot path; no per-event dict.
    __slots__ = ("alias", "code")

    def __init__(self, code: int, alias: str | None = None) -> None:
        self.code = code
        self.alias = alias

    def __repr__(self) -> str:
        return f"<{type(self).__name__} ({event_name(self.code)})>"


class JobEvent(SchedulerEvent):
    """Something happened to one job.

    :ivar job_id: the job's identifier
    :ivar jobstore: alias of the store holding the job
    """

    __slots__ = ("job_id", "jobstore")

    def __init__(self, code: int, job_id: str, jobstore: str | None) -> None:
        self.code = code
        self.alias = None
        self.job_id = job_id
        self.jobstore = jobstore

    def __repr__(self) -> str:
        name = event_name(self.code)
        return f"<{type(self).__name__} ({name}, job_id={self.job_id!r})>"


class JobSubmissionEvent(JobEvent):
    """A job was handed to its executor (or refused by it: max instances).

    :ivar scheduled_run_times: the fire times this submission covers
    """

    __slots__ = ("scheduled_run_times",)

    def __init__(
        self, code: int, job_id: str, jobstore: str | None, scheduled_run_times: list[datetime]
    ) -> None:
        self.code = code
        self.alias = None
        self.job_id = job_id
        self.jobstore = jobstore
        self.scheduled_run_times = scheduled_run_times


class JobExecutionEvent(JobEvent):
    """A run ended: returned, raised, or was missed.

    :ivar scheduled_run_time: the fire time this run was for
    :ivar retval: what the job returned (on success)
    :ivar exception: what it raised (on error)
    :ivar traceback: the formatted traceback text (on error)
    :ivar start_time: when the run started (None for a missed run)
    :ivar end_time: when the run ended (None for a missed run)
    :ivar output: what a process-pool run printed or logged in its worker, as a list of
        ``(unix_time, stream, text)`` (None when nothing was captured there)
    """

    __slots__ = (
        "end_time", "exception", "output", "retval", "scheduled_run_time", "start_time",
        "traceback",
    )

    def __init__(
        self,
        code: int,
        job_id: str,
        jobstore: str | None,
        scheduled_run_time: datetime,
        retval: Any = None,
        exception: BaseException | None = None,
        traceback: str | None = None,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
    ) -> None:
        self.code = code
        self.alias = None
        self.job_id = job_id
        self.jobstore = jobstore
        self.scheduled_run_time = scheduled_run_time
        self.retval = retval
        self.exception = exception
        self.traceback = traceback
        self.start_time = start_time
        self.end_time = end_time
        self.output: list[tuple[float, str, str]] | None = None
