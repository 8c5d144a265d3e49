"""A job store that keeps live Job objects in memory.

Nothing is serialized, so any callable works (lambdas, closures, notebook functions) and jobs
vanish with the process, or when the store is shut down (as in APScheduler). The index is a
``SortedList`` of small tuples ``(sort_key, seq, job)`` plus a dict from id to the same tuple:

* ``sort_key`` is the next run time as epoch seconds, ``inf`` for paused jobs so they sort
  last; floats compare faster and weigh less than datetimes, and epoch seconds of aware
  datetimes keep microsecond order for any date this side of the year 2200;
* ``seq`` is a per-store counter taken when the job is added, so equal run times keep
  insertion order and comparison never reaches the (unorderable) job;
* the dict and the list share one tuple per job, which keeps a million jobs affordable.

Add, update and remove are O(log n); ``get_next_run_time`` reads the first entry, O(1).
"""

from __future__ import annotations

import math
from datetime import datetime
from itertools import count, islice
from typing import TYPE_CHECKING, Any

from sortedcontainers import SortedList

from nbsched.jobstores.base import (
    BaseJobStore,
    ConflictingIdError,
    JobLookupError,
    check_job_id,
)

if TYPE_CHECKING:  # pragma: no cover
    from nbsched.job import Job

__all__ = ["MemoryJobStore"]

_PAUSED = math.inf


def _sort_key(run_time: datetime | None) -> float:
    return _PAUSED if run_time is None else run_time.timestamp()


class MemoryJobStore(BaseJobStore):
    """Stores jobs in memory, as they are. Plugin alias: ``memory``."""

    def __init__(self) -> None:
        super().__init__()
        self._index: SortedList = SortedList()
        self._entries: dict[str, tuple[float, int, Any]] = {}
        self._seq = count()

    def lookup_job(self, job_id: str) -> Job | None:
        entry = self._entries.get(job_id)
        return None if entry is None else entry[2]

    def get_due_jobs(self, now: datetime, limit: int | None = None) -> list[Job]:
        if limit is not None and (not isinstance(limit, int) or limit < 0):
            raise ValueError(f"limit must be a non-negative int or None, got {limit!r}")
        # Every entry with sort_key <= now sorts before (now, inf): seq is always finite.
        end = self._index.bisect_right((now.timestamp(), _PAUSED))
        if limit is not None:
            end = min(end, limit)
        return [entry[2] for entry in islice(self._index, end)]

    def get_next_run_time(self) -> datetime | None:
        if not self._index:
            return None
        first = self._index[0]
        return None if first[0] == _PAUSED else first[2].next_run_time

    def get_all_jobs(self) -> list[Job]:
        return [entry[2] for entry in self._index]

    def add_job(self, job: Job) -> None:
        if job.id in self._entries:
            raise ConflictingIdError(job.id)
        check_job_id(job.id)  # the limit every store keeps, so jobs move between stores
        entry = (_sort_key(job.next_run_time), next(self._seq), job)
        self._index.add(entry)
        self._entries[job.id] = entry

    def update_job(self, job: Job) -> None:
        old = self._entries.get(job.id)
        if old is None:
            raise JobLookupError(job.id)
        key = _sort_key(job.next_run_time)
        if key == old[0] and job is old[2]:
            return
        # Keep the original seq: an update must not move a job behind its equals.
        entry = (key, old[1], job)
        self._index.remove(old)
        self._index.add(entry)
        self._entries[job.id] = entry

    def remove_job(self, job_id: str) -> None:
        entry = self._entries.pop(job_id, None)
        if entry is None:
            raise JobLookupError(job_id)
        index = self._index
        if index[0] is entry:
            # The common case when a one-shot job has just fired: it is the earliest entry,
            # and popping the front skips the search remove() does (about half the cost).
            index.pop(0)
        else:
            index.remove(entry)

    def remove_all_jobs(self) -> None:
        self._index.clear()
        self._entries.clear()

    def shutdown(self) -> None:
        """Forget every job, as APScheduler's memory store does: nothing outlives the store.

        A scheduler that is shut down and started again therefore starts with an empty
        memory store; jobs meant to survive belong in a persistent store.
        """
        self.remove_all_jobs()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._entries
