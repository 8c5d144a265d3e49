"""Quarantined job records, seen through the scheduler.

A persistent store sets aside a record it cannot turn back into a job (tampered bytes, a
callable that no longer imports, a newer format) instead of deleting it or failing every
read: it logs an error on ``nbsched.jobstores.<alias>`` naming the job and keeps the row.
These methods let the user list such records across all stores, retry one once the cause
is fixed (say, the module is importable again), or delete it for good — without having to
know which store holds it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from typing import Any

from nbsched.jobstores.base import JobLookupError, QuarantinedJob

__all__ = ["QuarantineAPI", "SchedulerQuarantinedJob"]

_RECORD_FIELDS = tuple(field.name for field in fields(QuarantinedJob))


@dataclass(frozen=True)
class SchedulerQuarantinedJob(QuarantinedJob):
    """A store's :class:`~nbsched.jobstores.base.QuarantinedJob` plus the store's alias."""

    jobstore: str = ""


class QuarantineAPI:
    """``get_quarantined_jobs`` / ``retry_quarantined_job`` / ``remove_quarantined_job``.

    A mixin of BaseScheduler. The stores are only asked while the scheduler is started
    (``start(paused=True)`` is enough): before that they are not connected.
    """

    # Provided by BaseScheduler (as are wakeup() and _lookup_jobstore()).
    _jobstores: dict[str, Any]
    _jobstores_lock: Any
    _logger: logging.Logger
    state: int

    def _quarantine_stores(self, jobstore: str | None) -> list[tuple[str, Any]]:
        from nbsched.schedulers.core import STATE_STOPPED

        if self.state == STATE_STOPPED:
            return []
        if jobstore is not None:
            return [(jobstore, self._lookup_jobstore(jobstore))]
        return list(self._jobstores.items())

    def get_quarantined_jobs(self, jobstore: str | None = None) -> list[SchedulerQuarantinedJob]:
        """Records that could not be restored, from one store or all of them.

        Each item has the store's fields (``id``, ``reason``, ``next_run_time`` as raw epoch
        seconds, ``quarantined_at``) and ``jobstore``. Empty while the scheduler is stopped
        and for stores that never quarantine (the memory store).

        :raises KeyError: if ``jobstore`` names no store
        """
        found: list[SchedulerQuarantinedJob] = []
        with self._jobstores_lock:
            for alias, store in self._quarantine_stores(jobstore):
                for record in store.get_quarantined_jobs():
                    values = {name: getattr(record, name) for name in _RECORD_FIELDS}
                    found.append(SchedulerQuarantinedJob(**values, jobstore=alias))
        return found

    def retry_quarantined_job(self, job_id: str, jobstore: str | None = None) -> Any:
        """Restore a quarantined record again; on success it is a normal, scheduled job.

        :return: the restored :class:`~nbsched.job.Job`
        :raises JobLookupError: if no store (or not ``jobstore``) holds such a record
        :raises Exception: the store's restore error if the record still cannot be read
            (it then stays quarantined, with the new reason)
        """
        with self._jobstores_lock:
            alias, store = self._quarantine_holder(job_id, jobstore)
            job = store.retry_quarantined(job_id)
        self._logger.info('Quarantined job "%s" restored in job store "%s"', job_id, alias)
        self.wakeup()  # it may be due already
        return job

    def remove_quarantined_job(self, job_id: str, jobstore: str | None = None) -> None:
        """Delete a quarantined record for good.

        :raises JobLookupError: if no store (or not ``jobstore``) holds such a record
        """
        with self._jobstores_lock:
            alias, store = self._quarantine_holder(job_id, jobstore)
            store.remove_quarantined(job_id)
        self._logger.info('Quarantined job "%s" removed from job store "%s"', job_id, alias)

    def _quarantine_holder(self, job_id: str, jobstore: str | None) -> tuple[str, Any]:
        for alias, store in self._quarantine_stores(jobstore):
            if any(record.id == job_id for record in store.get_quarantined_jobs()):
                return alias, store
        raise JobLookupError(job_id)
