"""Run history: what happened each time a job was due.

Every execution, missed run and refused (max-instances) run becomes one :class:`RunRecord`.
The scheduler keeps the most recent ones in a bounded in-memory :class:`RunHistory`;
persistent stores may keep their own (``BaseJobStore.record_run``). Recording sits on the
dispatch hot path, so the in-memory log stores plain tuples and builds the frozen records only
when someone reads them.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from nbsched.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
)

__all__ = ["HISTORY_EVENTS", "OUTCOMES", "RunHistory", "RunRecord", "records_from_event"]

#: Event codes that produce run records.
HISTORY_EVENTS = EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES
OUTCOMES = ("ok", "error", "missed", "max_instances", "abandoned")
RETVAL_REPR_LIMIT = 200

_OUTCOME_BY_CODE = {
    EVENT_JOB_EXECUTED: "ok",
    EVENT_JOB_ERROR: "error",
    EVENT_JOB_MISSED: "missed",
    EVENT_JOB_MAX_INSTANCES: "max_instances",
}


@dataclass(frozen=True)
class RunRecord:
    """One due run of one job and how it ended.

    ``outcome`` is ``"ok"``, ``"error"``, ``"missed"`` (too late for its misfire grace time),
    ``"max_instances"`` (refused: the job was still running) or ``"abandoned"`` (the process
    running it went away). ``start_time``/``end_time`` are None for runs that never started.
    """

    job_id: str
    jobstore: str | None
    scheduled_time: datetime
    start_time: datetime | None
    end_time: datetime | None
    outcome: str
    retval_repr: str | None = None
    exception: str | None = None
    traceback: str | None = None


def short_repr(value: Any, limit: int = RETVAL_REPR_LIMIT) -> str:
    """``repr(value)`` cut to ``limit`` characters (a return value may be a huge frame)."""
    if value is None:
        return "None"
    try:
        text = repr(value)
    except Exception as exc:  # a broken __repr__ must not break the run's bookkeeping
        text = f"<unrepresentable {type(value).__name__}: {type(exc).__name__}>"
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


def _exception_text(exc: BaseException | None) -> str | None:
    if exc is None:
        return None
    message = str(exc)
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _raw_from_event(event: Any) -> list[tuple]:
    """The compact tuples the in-memory log keeps for one event (one per run time)."""
    code = event.code
    if code == EVENT_JOB_MAX_INSTANCES:
        return [
            (event.job_id, event.jobstore, run_time, None, None, "max_instances", None, None, None)
            for run_time in event.scheduled_run_times
        ]
    outcome = _OUTCOME_BY_CODE[code]
    if code == EVENT_JOB_EXECUTED:
        retval = event.retval
        return [(event.job_id, event.jobstore, event.scheduled_run_time, event.start_time,
                 event.end_time, outcome, "None" if retval is None else short_repr(retval),
                 None, None)]
    return [(event.job_id, event.jobstore, event.scheduled_run_time, event.start_time,
             event.end_time, outcome, None, _exception_text(getattr(event, "exception", None)),
             getattr(event, "traceback", None))]


def records_from_event(event: Any) -> list[RunRecord]:
    """Turn an execution, missed or max-instances event into run records."""
    if not event.code & HISTORY_EVENTS:
        return []
    return [RunRecord(*raw) for raw in _raw_from_event(event)]


class RunHistory:
    """A bounded, thread-safe log of the most recent runs (oldest dropped first).

    :param maxlen: how many records to keep (default 10,000)
    """

    def __init__(self, maxlen: int = 10_000) -> None:
        if not isinstance(maxlen, int) or isinstance(maxlen, bool) or maxlen < 1:
            raise ValueError(f"maxlen: {maxlen!r}: must be a positive integer")
        self._records: deque[tuple] = deque(maxlen=maxlen)
        self._lock = threading.Lock()

    @property
    def maxlen(self) -> int:
        return self._records.maxlen  # type: ignore[return-value]

    def record_event(self, event: Any) -> None:
        """Log the runs an execution/missed/max-instances event describes.

        Writers append without a lock (``deque.append`` is atomic); readers copy with a
        retry instead, so the dispatch hot path pays nothing for thread safety.
        """
        if event.code == EVENT_JOB_EXECUTED:
            retval = event.retval
            self._records.append((
                event.job_id, event.jobstore, event.scheduled_run_time, event.start_time,
                event.end_time, "ok", "None" if retval is None else short_repr(retval), None,
                None,
            ))
        else:
            self._records.extend(_raw_from_event(event))

    def add(self, record: RunRecord) -> None:
        """Log one ready-made record."""
        self._records.append(
            tuple(getattr(record, name) for name in RunRecord.__dataclass_fields__)
        )

    def _snapshot(self) -> list[tuple]:
        with self._lock:
            while True:
                try:
                    return list(self._records)
                except RuntimeError:  # appended to while copying: try again
                    continue

    def extend(self, records: Iterable[RunRecord]) -> None:
        for record in records:
            self.add(record)

    def get(
        self, job_id: str | None = None, limit: int | None = 100, exclude_jobstores: Any = ()
    ) -> list[RunRecord]:
        """The most recent records, newest first, optionally for one job only."""
        if limit is not None and limit < 0:
            raise ValueError(f"limit: {limit!r}: must not be negative")
        raws = self._snapshot()
        result: list[RunRecord] = []
        for raw in reversed(raws):
            if job_id is not None and raw[0] != job_id:
                continue
            if exclude_jobstores and raw[1] in exclude_jobstores:
                continue
            if limit is not None and len(result) >= limit:
                break
            result.append(RunRecord(*raw))
        return result

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    def __len__(self) -> int:
        return len(self._records)
