"""The scheduler core: find due jobs, apply the run policies, hand runs to executors.

This is the only place that decides *what* runs; front ends (blocking, background thread,
asyncio, the notebook) only decide *when* to call :meth:`SchedulerCore._process_jobs` — they
sleep until the wait it returns elapses or until ``wakeup()``.

Per due job: compute the run times that are due (``trigger.fire_times_through`` — O(1) for
interval triggers however far behind the job is; ``coalesce`` keeps only the latest,
otherwise at most ``max_catchup_runs`` of the most recent are replayed), submit them to the
job's executor, publish ``EVENT_JOB_SUBMITTED`` (or ``EVENT_JOB_MAX_INSTANCES``), then store
the next run time or remove the finished job. Due jobs are fetched in batches so one huge
backlog neither holds the store lock for long nor builds one giant list.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from threading import TIMEOUT_MAX
from typing import Any

from nbsched.events import (
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_REMOVED,
    EVENT_JOB_SUBMITTED,
    JobEvent,
    JobSubmissionEvent,
)
from nbsched.executors.base import MaxInstancesReachedError

__all__ = ["STATE_PAUSED", "STATE_RUNNING", "STATE_STOPPED", "SchedulerCore"]

#: The scheduler is not started (or was shut down).
STATE_STOPPED = 0
#: The scheduler is started and processing jobs.
STATE_RUNNING = 1
#: The scheduler is started but does not process jobs until ``resume()``.
STATE_PAUSED = 2


class SchedulerCore:
    """Due-job processing shared by every scheduler front end (a mixin of BaseScheduler)."""

    # Set by BaseScheduler.__init__/_configure; declared for readers and type checkers.
    state: int
    timezone: Any
    jobstore_retry_interval: float
    max_catchup_runs: int
    batch_size: int
    _logger: logging.Logger
    _jobstores: dict[str, Any]
    _executors: dict[str, Any]
    _jobstores_lock: Any
    _listener_mask: int

    def _process_jobs(self) -> float | None:
        """Run everything that is due; return seconds until the next wake-up (None: no job).

        Never raises: store errors schedule a retry after ``jobstore_retry_interval``.
        """
        if self.state == STATE_PAUSED:
            self._logger.debug("Scheduler is paused -- not processing jobs")
            return None
        self._logger.debug("Looking for jobs to run")
        now = datetime.now(self.timezone)
        next_wakeup: datetime | None = None

        with self._jobstores_lock:
            stores = list(self._jobstores.items())
        for alias, store in stores:
            retry = self._process_store(alias, store, now)
            if retry is not None and (next_wakeup is None or retry < next_wakeup):
                next_wakeup = retry
            try:
                with self._jobstores_lock:
                    store_next = store.get_next_run_time()
            except Exception as exc:
                self._logger.warning(
                    "Error getting the next run time from job store %r: %s", alias, exc
                )
                store_next = now + timedelta(seconds=self.jobstore_retry_interval)
            if store_next is not None and (next_wakeup is None or store_next < next_wakeup):
                next_wakeup = store_next

        if self.state == STATE_PAUSED:
            self._logger.debug("Scheduler is paused; waiting until resume() is called")
            return None
        if next_wakeup is None:
            self._logger.debug("No jobs; waiting until a job is added")
            return None
        next_wakeup = next_wakeup.astimezone(self.timezone)
        wait_seconds = min(
            max(next_wakeup.timestamp() - datetime.now(self.timezone).timestamp(), 0.0),
            TIMEOUT_MAX,
        )
        self._logger.debug("Next wakeup is due at %s (in %f seconds)", next_wakeup, wait_seconds)
        return wait_seconds

    def _process_store(self, alias: str, store: Any, now: datetime) -> datetime | None:
        """Process the due jobs of one store, batch by batch; a retry time if the store failed."""
        batch_size = self.batch_size
        seen: set[str] = set()
        while self.state == STATE_RUNNING:
            events: list[JobSubmissionEvent] = []
            with self._jobstores_lock:
                if self._jobstores.get(alias) is not store:
                    return None  # removed while we were working
                try:
                    due = store.get_due_jobs(now, batch_size)
                except Exception as exc:
                    self._logger.warning(
                        "Error getting due jobs from job store %r: %s", alias, exc
                    )
                    return now + timedelta(seconds=self.jobstore_retry_interval)
                repeated = False
                for job in due:
                    job_id = job.id
                    if job_id in seen:
                        repeated = True
                        continue
                    seen.add(job_id)
                    try:
                        self._process_due_job(job, alias, store, now, events)
                    except Exception:
                        self._quarantine_broken_job(job, alias, store)
            for event in events:
                self._dispatch_event(event)
            if len(due) < batch_size or repeated:
                return None
        return None

    def _process_due_job(
        self, job: Any, alias: str, store: Any, now: datetime, events: list[Any]
    ) -> None:
        executor = self._executors.get(job.executor)
        if executor is None:
            self._logger.error(
                'Executor lookup ("%s") failed for job "%s" -- removing it from the job store',
                job.executor,
                job,
            )
            self._remove_finished_job(job, alias, store)
            return

        run_times, next_run_time = self._due_run_times(job, now)
        if run_times:
            try:
                executor.submit_job(job, run_times)
            except MaxInstancesReachedError:
                self._logger.warning(
                    'Execution of job "%s" skipped: maximum number of running instances '
                    "reached (%d)",
                    job,
                    job.max_instances,
                )
                events.append(
                    JobSubmissionEvent(EVENT_JOB_MAX_INSTANCES, job.id, alias, run_times)
                )
            except Exception:
                self._logger.exception(
                    'Error submitting job "%s" to executor "%s"', job, job.executor
                )
            else:
                if self._listener_mask & EVENT_JOB_SUBMITTED:
                    events.append(JobSubmissionEvent(EVENT_JOB_SUBMITTED, job.id, alias, run_times))

        if next_run_time is not None:
            job.next_run_time = next_run_time
            try:
                store.update_job(job)
            except Exception:
                self._logger.exception('Error updating job "%s" in job store %r', job.id, alias)
        else:
            self._remove_finished_job(job, alias, store)

    def _due_run_times(self, job: Any, now: datetime) -> tuple[list[datetime], datetime | None]:
        """The run times to submit now and the job's next run time after them.

        The common case — exactly one run due — costs a single trigger call. A job further
        behind asks the trigger for the missed fire times arithmetically.
        """
        first = job.next_run_time
        if first is None or first > now:
            return [], first
        trigger = job.trigger
        if getattr(trigger, "_fires_once", False):
            # A one-shot (date) job is used up by any run, even one moved earlier.
            return [first], None
        following = trigger.get_next_fire_time(first, now)
        if following is None or following > now:
            return [first], following

        keep = 1 if job.coalesce else self.max_catchup_runs
        run_times, total = trigger.fire_times_through(first, now, keep)
        if not run_times:  # defensive: a trigger that disagrees with itself
            run_times, total = [first], 1
        if total > len(run_times):
            skipped = total - len(run_times)
            if job.coalesce:
                self._logger.debug(
                    'Job "%s" was %d runs behind; coalesced into one run', job, total
                )
            else:
                self._logger.warning(
                    'Job "%s" was %d runs behind; replaying only the latest %d '
                    "(%d runs skipped, max_catchup_runs=%d)",
                    job,
                    total,
                    len(run_times),
                    skipped,
                    self.max_catchup_runs,
                )
        return run_times, trigger.get_next_fire_time(run_times[-1], now)

    def _quarantine_broken_job(self, job: Any, alias: str, store: Any) -> None:
        """A job whose processing raised (a broken trigger): pause it rather than retry forever.

        Without this one bad job would either kill the scheduler thread or, left due, be
        retried in a tight loop.
        """
        self._logger.exception(
            'Error processing job "%s" -- pausing it (resume it once the cause is fixed)', job.id
        )
        try:
            job.next_run_time = None
            store.update_job(job)
        except Exception:
            self._logger.exception('Could not pause job "%s" in job store %r', job.id, alias)

    def _remove_finished_job(self, job: Any, alias: str, store: Any) -> None:
        """Remove a job with no more run times (same events and log as ``remove_job``)."""
        try:
            store.remove_job(job.id)
        except KeyError:
            return  # already gone (removed concurrently)
        except Exception:
            self._logger.exception('Error removing job "%s" from job store %r', job.id, alias)
            return
        if self._listener_mask & EVENT_JOB_REMOVED:
            self._dispatch_event(JobEvent(EVENT_JOB_REMOVED, job.id, alias))
        self._logger.info("Removed job %s", job.id)

    def _dispatch_event(self, event: Any) -> None:  # pragma: no cover - BaseScheduler's
        raise NotImplementedError
