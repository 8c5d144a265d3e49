"""The scheduler core: find due jobs, apply the run policies, hand runs to executors.

This is the only place that decides *what* runs; front ends (blocking, background thread,
asyncio, the notebook) only decide *when* to call :meth:`SchedulerCore._process_jobs` — they
sleep until the wait it returns elapses or until ``wakeup()``.

Per due job: compute the run times that are due (``trigger.fire_times_through`` — O(1) for
interval triggers however far behind the job is; ``coalesce`` keeps only the latest,
otherwise at most ``max_catchup_runs`` of the most recent are replayed), store the next run
time or remove the finished job, and only then submit the runs to the job's executor and
publish ``EVENT_JOB_SUBMITTED`` (or ``EVENT_JOB_MAX_INSTANCES``) — so a crash never repeats
a fire time that was already handed over. Due jobs are fetched in batches so one huge
backlog neither holds the store lock for long nor builds one giant list.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta, timezone
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
from nbsched.signing import SigningKeyError

__all__ = ["STATE_PAUSED", "STATE_RUNNING", "STATE_STOPPED", "SchedulerCore"]

#: The scheduler is not started (or was shut down).
STATE_STOPPED = 0
#: The scheduler is started and processing jobs.
STATE_RUNNING = 1
#: The scheduler is started but does not process jobs until ``resume()``.
STATE_PAUSED = 2


class _StoreWriteFailed(Exception):
    """A due job's next run time could not be written; its run waits for a retry."""


class _ReadAheadRound:
    """Runs one round read ahead, as ``(job id, store alias)``: those waiting for their fire
    time (``pending``) and those cancelled meanwhile (remove_job, pause_job, a new schedule)."""

    __slots__ = ("cancelled", "pending")

    def __init__(self) -> None:
        self.pending: set[tuple[str, str]] = set()
        self.cancelled: set[tuple[str, str]] = set()


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
    _info_enabled: bool = True
    #: Default of the ``read_ahead`` option (front ends whose core may block briefly).
    _default_read_ahead: float = 0.02
    read_ahead: float = 0.0
    # The read-ahead state of every round in progress (normally one; a round driven by hand
    # or by a second thread may overlap the loop's own). Each round owns its sets, so one
    # round starting or ending never wipes another's cancellations.
    _read_ahead_rounds: tuple[_ReadAheadRound, ...] = ()

    def _process_jobs(self) -> float | None:
        """Run everything that is due; return seconds until the next wake-up (None: no job).

        Never raises: store errors schedule a retry after ``jobstore_retry_interval``.
        """
        if self.state == STATE_PAUSED:
            self._logger.debug("Scheduler is paused -- not processing jobs")
            return None
        self._logger.debug("Looking for jobs to run")
        # In UTC: two datetimes with the same tzinfo compare by wall clock, ignoring ``fold``,
        # so on a fall-back night "01:00 EST" would sort before "01:45 EDT". Against a UTC
        # ``now`` every comparison of the core is between instants.
        now = self._current_time().astimezone(timezone.utc)
        read_ahead = self.read_ahead
        horizon = now + timedelta(seconds=read_ahead) if read_ahead else now
        ready: list[tuple[datetime, int, tuple[Any, Any, list[datetime], bool], str]] = []
        # Registered before any store is read: a run counts as read ahead (and so can be
        # cancelled by remove_job/pause_job/...) from the moment its job is advanced.
        round_ = _ReadAheadRound()
        with self._jobstores_lock:
            self._read_ahead_rounds = (*self._read_ahead_rounds, round_)
        try:
            return self._process_round(now, horizon, read_ahead, ready, round_)
        finally:
            with self._jobstores_lock:
                self._read_ahead_rounds = tuple(
                    r for r in self._read_ahead_rounds if r is not round_
                )

    def _process_round(
        self,
        now: datetime,
        horizon: datetime,
        read_ahead: float,
        ready: list[tuple[datetime, int, tuple[Any, Any, list[datetime], bool], str]],
        round_: _ReadAheadRound,
    ) -> float | None:
        next_wakeup: datetime | None = None
        with self._jobstores_lock:
            stores = list(self._jobstores.items())
        retrying: set[str] = set()
        for alias, store in stores:
            retry = self._process_store(alias, store, now, horizon, ready, round_)
            if retry is not None:
                retrying.add(alias)  # its own next run time may be a fire time still due
                if next_wakeup is None or retry < next_wakeup:
                    next_wakeup = retry
        # The stores' next run times are read before the runs read ahead are submitted: they
        # are already recorded, and once the runs are handed over the core should wait (free
        # the GIL) at once, so worker threads start them without queueing behind a store query.
        for alias, store in stores:
            if alias in retrying:
                continue
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

        if ready:
            self._fire_read_ahead(ready, round_)
        if self.state == STATE_PAUSED:
            self._logger.debug("Scheduler is paused; waiting until resume() is called")
            return None
        if next_wakeup is None:
            self._logger.debug("No jobs; waiting until a job is added")
            return None
        next_wakeup = next_wakeup.astimezone(self.timezone)
        # Wake ``read_ahead`` early: the next round fetches and persists the jobs due then and
        # waits out the rest itself, so only the submission happens at the fire time.
        wait_seconds = min(
            max(next_wakeup.timestamp() - time.time() - read_ahead, 0.0),
            TIMEOUT_MAX,
        )
        self._logger.debug("Next wakeup is due at %s (in %f seconds)", next_wakeup, wait_seconds)
        return wait_seconds

    def _process_store(
        self,
        alias: str,
        store: Any,
        now: datetime,
        horizon: datetime | None = None,
        ready: list | None = None,
        round_: _ReadAheadRound | None = None,
    ) -> datetime | None:
        """Process the due jobs of one store, batch by batch; a retry time if the store failed.

        Each batch is handled in two passes: first every due job's next run time is computed
        and written to the store (finished jobs are deleted), then the runs are handed to the
        executors. A crash (even SIGKILL) after the first pass loses those runs instead of
        repeating them on restart: a fire time is run at most once.

        Jobs due after ``now`` but by ``horizon`` (the read-ahead window) get the first pass
        only, as of their own fire time; their runs go to ``ready`` for
        :meth:`_fire_read_ahead` to submit at that exact time.
        """
        if horizon is None or ready is None or round_ is None:
            horizon = now
        batch_size = self.batch_size
        # Checked once per round, not per job: a logger call costs as much as a job's
        # bookkeeping when its level filters the record out.
        self._info_enabled = self._logger.isEnabledFor(logging.INFO)
        seen: set[str] = set()
        while self.state == STATE_RUNNING:
            events: list[JobSubmissionEvent] = []
            with self._jobstores_lock:
                if self._jobstores.get(alias) is not store:
                    return None  # removed while we were working
                try:
                    due = store.get_due_jobs(horizon, batch_size)
                except Exception as exc:
                    # A key that verifies none of the store's records is a configuration
                    # error the user must fix, not a passing outage: say so louder.
                    level = logging.ERROR if isinstance(exc, SigningKeyError) else logging.WARNING
                    self._logger.log(
                        level, "Error getting due jobs from job store %r: %s", alias, exc
                    )
                    return now + timedelta(seconds=self.jobstore_retry_interval)
                repeated = False
                write_failed = False
                runs: list[tuple[Any, Any, list[datetime], bool]] = []
                for job in due:
                    job_id = job.id
                    if job_id in seen:
                        repeated = True
                        continue
                    seen.add(job_id)
                    first = job.next_run_time
                    early = first is not None and first > now
                    try:
                        # A job read ahead is advanced as of its own fire time: its run times
                        # never include one later than that, so it never runs early.
                        as_of = first.astimezone(timezone.utc) if early else now
                        run = self._advance_due_job(job, alias, store, as_of)
                    except _StoreWriteFailed:
                        write_failed = True
                        continue
                    except Exception:
                        self._quarantine_broken_job(job, alias, store)
                        continue
                    if run is None:
                        continue
                    if early:
                        ready.append((first, len(ready), run, alias))  # type: ignore[union-attr]
                        round_.pending.add((job_id, alias))  # type: ignore[union-attr]
                    else:
                        runs.append(run)
                for job, executor, run_times, removed in runs:
                    self._submit_runs(job, executor, run_times, removed, alias, events)
            for event in events:
                self._dispatch_event(event)
            if write_failed:
                # Those jobs were not run: their fire times stay due in the store, and asking
                # again at once would spin on a store that refuses writes.
                return now + timedelta(seconds=self.jobstore_retry_interval)
            if len(due) < batch_size or repeated:
                return None
        return None

    def _fire_read_ahead(
        self,
        ready: list[tuple[datetime, int, tuple[Any, Any, list[datetime], bool], str]],
        round_: _ReadAheadRound,
    ) -> None:
        """Submit the runs read ahead, each at (never before) its exact fire time.

        Their next run times are already in the stores, so what is left per fire time is a
        sleep and back-to-back submissions -- no store access between them. The wait is at
        most ``read_ahead``; a run cancelled meanwhile (``remove_job``, ``pause_job``, a new
        schedule) is skipped, and on shutdown the remaining runs are dropped (at most once:
        their fire times were already recorded as done).
        """
        ready.sort(key=lambda entry: (entry[0], entry[1]))
        pending = round_.pending
        cancelled = round_.cancelled
        events: list[Any] = []
        current: datetime | None = None
        for fire, _, (job, executor, run_times, removed), alias in ready:
            if fire != current:
                for event in events:
                    self._dispatch_event(event)
                events.clear()
                current = fire
                target = fire.timestamp()
                while True:
                    remaining = target - time.time()
                    if remaining <= 0:
                        break
                    time.sleep(remaining)
            if self.state == STATE_STOPPED:
                self._logger.info(
                    "Scheduler shut down with %d runs read ahead; they are dropped",
                    len(pending),
                )
                break
            key = (job.id, alias)
            # Checked and taken under the lock that cancellations hold, so a run is either
            # cancelled or submitted, never both.
            with self._jobstores_lock:
                pending.discard(key)
                if key in cancelled:
                    continue
            self._submit_runs(job, executor, run_times, removed, alias, events)
        for event in events:
            self._dispatch_event(event)

    def _read_ahead_keys(self) -> list[tuple[str, str]]:
        """``(job id, alias)`` of every run read ahead and not yet submitted, in any round."""
        return [key for round_ in self._read_ahead_rounds for key in round_.pending]

    def _cancel_read_ahead(self, job_id: str, jobstore: str | None) -> str | None:
        """Cancel the runs of ``job_id`` read ahead and not yet submitted, in every round in
        progress; the store alias of one of them, or None. Called with the store lock held."""
        found: str | None = None
        for round_ in self._read_ahead_rounds:
            for key in list(round_.pending):
                if key[0] == job_id and jobstore in (None, key[1]):
                    round_.cancelled.add(key)
                    found = key[1]
        return found

    def _advance_due_job(
        self, job: Any, alias: str, store: Any, now: datetime
    ) -> tuple[Any, Any, list[datetime], bool] | None:
        """Move a due job past its due run times in the store; what to submit for it.

        Returns ``(job, executor, run_times, removed)`` (``removed``: the job had no run
        time left and was deleted from the store; its ``EVENT_JOB_REMOVED`` follows the
        submission, in APScheduler's order), or None when there is nothing to submit.
        """
        executor = self._executors.get(job.executor)
        if executor is None:
            self._logger.error(
                'Executor lookup ("%s") failed for job "%s" -- removing it from the job store',
                job.executor,
                job,
            )
            self._remove_finished_job(job, alias, store)
            return None

        # The common cases inline (this runs once per due job): a one-shot trigger, or
        # exactly one run due; anything further behind goes through _due_run_times.
        first = job.next_run_time
        trigger = job.trigger
        if first is None or first > now:
            return None  # not due after all (paused or moved concurrently): leave it be
        if getattr(trigger, "_fires_once", False):
            # A one-shot (date) job is used up by any run, even one moved earlier.
            run_times, next_run_time = [first], None
        else:
            next_run_time = trigger.get_next_fire_time(first, now)
            if next_run_time is not None and next_run_time <= now:
                run_times, next_run_time = self._catch_up_run_times(job, first, now)
            else:
                run_times = [first]
        removed = False
        if next_run_time is not None:
            job.next_run_time = next_run_time
            try:
                store.update_job(job)
            except Exception as exc:
                # Not run: a fire time runs only once its successor is recorded (otherwise a
                # store that refuses writes would hand back the same fire time every round).
                self._logger.exception(
                    'Error updating job "%s" in job store %r; its run is postponed', job.id, alias
                )
                raise _StoreWriteFailed from exc
        else:
            try:
                store.remove_job(job.id)
            except KeyError:
                pass  # already gone (removed concurrently)
            except Exception:
                self._logger.exception('Error removing job "%s" from job store %r', job.id, alias)
            else:
                removed = True
        if not run_times and not removed:
            return None
        return job, executor, run_times, removed

    def _submit_runs(
        self,
        job: Any,
        executor: Any,
        run_times: list[datetime],
        removed: bool,
        alias: str,
        events: list[Any],
    ) -> None:
        """Hand the runs to the executor; publish the removal of a finished job after it."""
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
        if removed:
            if self._listener_mask & EVENT_JOB_REMOVED:
                self._dispatch_event(JobEvent(EVENT_JOB_REMOVED, job.id, alias))
            if self._info_enabled:
                self._logger.info("Removed job %s", job.id)

    def _catch_up_run_times(
        self, job: Any, first: datetime, now: datetime
    ) -> tuple[list[datetime], datetime | None]:
        """Run times for a job more than one run behind, and its next run time after them.

        The trigger computes the missed fire times arithmetically where it can (O(1) for
        interval triggers); ``coalesce`` keeps the latest, otherwise at most
        ``max_catchup_runs`` of the most recent are replayed.
        """
        trigger = job.trigger
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

    def _current_time(self) -> datetime:
        """Now, in the scheduler's zone (BaseScheduler reads it through its own module so
        that tests freezing ``schedulers.base.datetime`` freeze the core too)."""
        return datetime.now(self.timezone)

    def _dispatch_event(self, event: Any) -> None:  # pragma: no cover - BaseScheduler's
        raise NotImplementedError
