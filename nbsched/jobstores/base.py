"""The job store contract shared by every backend.

A store keeps jobs ordered by their next run time and answers the scheduler's questions
cheaply: what is due now, when is the next wake-up, and what jobs exist. The API is the one of
APScheduler 3.11 (so third-party code written against it keeps working) with three additions:

* ``get_due_jobs(now, limit=None)`` so the scheduler can fetch due jobs in batches;
* a *quarantine* for persistent stores: a record that cannot be decoded is set aside with the
  reason instead of being deleted or crashing the scheduler, and can be retried or removed;
* run-history hooks, so a persistent store can keep the run log next to the jobs.

Ordering rules every backend follows (and the shared test suite checks): due jobs and
``get_all_jobs()`` come in ascending next run time, ties in the order the jobs were added
(updating a job keeps its place among equals), paused jobs (``next_run_time is None``) last.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from nbsched.history import RunRecord  # re-exported: the record type of the history hooks

if TYPE_CHECKING:  # pragma: no cover - imports for annotations only
    from nbsched.job import Job

__all__ = [
    "BaseJobStore",
    "ConflictingIdError",
    "JobLookupError",
    "QuarantinedJob",
    "RUN_RECORD_FIELDS",
    "RunRecord",
    "run_record_from_plain",
    "run_record_to_plain",
    "TransientJobError",
]


#: What rebuilding a job from an authentic record raises when the record does not fit this
#: process: an import that fails, a missing attribute or state entry, a value of the wrong kind.
_RESTORE_ERRORS = (ImportError, LookupError, AttributeError, TypeError, ValueError)
_job_class: Any = None  # nbsched.job.Job, imported on first use


class JobLookupError(KeyError):
    """The store has no job with the given id (raised by update, remove and friends)."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"No job by the id of {job_id} was found")
        self.job_id = job_id


class ConflictingIdError(KeyError):
    """A job with the same id is already in the store; ids are unique per store."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"Job identifier ({job_id}) conflicts with an existing job")
        self.job_id = job_id


class TransientJobError(ValueError):
    """The job cannot be written to a persistent store because its callable cannot be saved."""

    def __init__(self, job_id: str) -> None:
        super().__init__(
            f"Job ({job_id}) cannot be added to this job store because a reference to the "
            "callable could not be determined."
        )
        self.job_id = job_id


@dataclass(frozen=True)
class QuarantinedJob:
    """A stored record that could not be turned back into a job.

    ``next_run_time`` is the raw value the store holds (epoch seconds, or None when paused):
    the record could not be decoded, so there is no trigger or time zone to interpret it with.
    """

    id: str
    reason: str
    next_run_time: float | None = None
    quarantined_at: float | None = None

    @property
    def next_run_time_utc(self) -> datetime | None:
        """The raw next run time as an aware UTC datetime, for display."""
        if self.next_run_time is None:
            return None
        from datetime import timezone

        return datetime.fromtimestamp(self.next_run_time, timezone.utc)


class BaseJobStore(ABC):
    """Abstract base of every job store; see the module docstring for the ordering rules."""

    _scheduler: Any = None
    _alias: str | None = None
    _logger: logging.Logger = logging.getLogger("nbsched.jobstores")

    def start(self, scheduler: Any, alias: str) -> None:
        """Bind the store to ``scheduler`` under ``alias``.

        Called when the scheduler starts, or when the store is added to a running scheduler.
        Persistent stores create their tables/connections here or in ``__init__``.
        """
        self._scheduler = scheduler
        self._alias = alias
        self._logger = logging.getLogger(f"nbsched.jobstores.{alias}")

    def shutdown(self) -> None:
        """Release connections and other resources; the default has nothing to free."""
        return None

    # --- the APScheduler 3.11 API -------------------------------------------------------

    @abstractmethod
    def lookup_job(self, job_id: str) -> Job | None:
        """The job with ``job_id``, or None if the store has none."""

    @abstractmethod
    def get_due_jobs(self, now: datetime, limit: int | None = None) -> list[Job]:
        """Jobs whose next run time is at or before ``now``, earliest first, at most ``limit``.

        Ties keep insertion order. Records that fail to decode are quarantined, not returned.
        """

    @abstractmethod
    def get_next_run_time(self) -> datetime | None:
        """The earliest next run time of any scheduled job (None if all are paused or none)."""

    @abstractmethod
    def get_all_jobs(self) -> list[Job]:
        """Every job: scheduled ones by next run time (ties in insertion order), then paused."""

    @abstractmethod
    def add_job(self, job: Job) -> None:
        """Store a new job; raises :class:`ConflictingIdError` if the id is taken."""

    @abstractmethod
    def update_job(self, job: Job) -> None:
        """Replace the stored job with the same id; raises :class:`JobLookupError` if absent."""

    @abstractmethod
    def remove_job(self, job_id: str) -> None:
        """Delete the job; raises :class:`JobLookupError` if absent."""

    @abstractmethod
    def remove_all_jobs(self) -> None:
        """Delete every job (quarantined records too)."""

    # --- restoring stored jobs ------------------------------------------------------------

    def _restore_job(self, state: dict[str, Any]) -> Job:
        """Rebuild a Job from ``Job.__getstate__()`` output and bind it to this store.

        Imported lazily: the Job module imports the scheduler machinery, and stores are
        importable (and testable) on their own.
        """
        global _job_class
        if _job_class is None:
            from nbsched.job import Job

            _job_class = Job
        job = _job_class.__new__(_job_class)
        job.__setstate__(state)
        job._scheduler = self._scheduler
        job._jobstore_alias = self._alias
        return job

    def _job_from_record(self, payload: bytes) -> Job:
        """Verify, decode and restore a stored record (persistent stores).

        Every fault *of the record* comes out as :class:`nbsched.serialization.RecordError`:
        a bad signature, a pickle that fails to load, and — wrapped in ``RestoreError`` — a
        callable or state that :meth:`_restore_job` cannot rebuild (module gone, missing
        entry). Stores quarantine exactly those. Anything else, such as an unusable signing
        key (``SigningKeyError``: a setup problem that would condemn every record), propagates.
        """
        from nbsched.serialization import RestoreError, decode_job_state

        # resolve=False: restoring imports the callable anyway; failing there is wrapped below.
        state = decode_job_state(payload, resolve=False)
        try:
            return self._restore_job(state)
        except _RESTORE_ERRORS as exc:
            raise RestoreError(
                f"cannot restore job {state.get('id')!r}: {type(exc).__name__}: {exc}"
            ) from exc

    # --- quarantine (persistent stores override) ----------------------------------------------

    def get_quarantined_jobs(self) -> list[QuarantinedJob]:
        """Records set aside because they could not be decoded; a live store has none."""
        return []

    def retry_quarantined(self, job_id: str) -> Job:
        """Try to decode a quarantined record again; on success it is a normal job again.

        Raises :class:`JobLookupError` if no such quarantined record exists, or the decoding
        error if it still fails (the record then stays quarantined with the new reason).
        """
        raise JobLookupError(job_id)

    def remove_quarantined(self, job_id: str) -> None:
        """Delete a quarantined record for good; :class:`JobLookupError` if there is none."""
        raise JobLookupError(job_id)

    # --- run history (persistent stores override) -----------------------------------------------

    def record_run(self, record: RunRecord) -> None:
        """Keep one run record. The default keeps nothing (see :meth:`get_run_history`)."""
        return None

    def get_run_history(
        self, job_id: str | None = None, limit: int = 100
    ) -> list[RunRecord] | None:
        """Recorded runs, newest first; None means "this store keeps no history".

        The scheduler then answers from its own in-memory log.
        """
        return None

    def __bool__(self) -> bool:
        # Stores that define ``__len__`` would otherwise be falsy while empty, and code
        # written for APScheduler tests stores with ``if store:``/``store or default``.
        return True

    def __repr__(self) -> str:
        return f"<{self.__class__.__name__}>"


#: The fields of a run record in the order persistent stores keep them.
RUN_RECORD_FIELDS = (
    "job_id",
    "jobstore",
    "scheduled_time",
    "start_time",
    "end_time",
    "outcome",
    "retval_repr",
    "exception",
    "traceback",
)
_RUN_RECORD_TIMES = frozenset({"scheduled_time", "start_time", "end_time"})


def run_record_to_plain(record: RunRecord) -> dict[str, Any]:
    """A run record as plain values (times as epoch seconds), for a table row or JSON.

    One encoding for every persistent store, so a history written by one backend reads the
    same through another and the two directions cannot drift apart.
    """
    plain = {}
    for name in RUN_RECORD_FIELDS:
        value = getattr(record, name)
        if name in _RUN_RECORD_TIMES and value is not None:
            value = value.timestamp()
        plain[name] = value
    return plain


def run_record_from_plain(values: Any) -> RunRecord:
    """Rebuild a run record from :func:`run_record_to_plain` output (a mapping) or from a
    row whose columns follow :data:`RUN_RECORD_FIELDS`."""
    if not hasattr(values, "keys"):
        values = dict(zip(RUN_RECORD_FIELDS, values))
    fields = {}
    for name in RUN_RECORD_FIELDS:
        value = values[name]
        if name in _RUN_RECORD_TIMES and value is not None:
            value = datetime.fromtimestamp(value, timezone.utc)
        fields[name] = value
    return RunRecord(**fields)
