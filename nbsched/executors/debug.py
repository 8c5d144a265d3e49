"""An executor that runs jobs right away in the thread that submits them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from nbsched.executors.base import BaseExecutor, MaxInstancesReachedError, run_job

__all__ = ["DebugExecutor"]


class DebugExecutor(BaseExecutor):
    """Run each job synchronously in the scheduler's own thread.

    Useful in tests (a run has finished, and its events have been published, by the time
    ``submit_job`` returns) and for stepping through a job in a debugger. It is also the
    cheapest executor, so the engine benchmarks use it to measure the scheduler alone. A
    long job blocks the scheduler while it runs.

    Plugin alias: ``debug``
    """

    def submit_job(self, job: Any, run_times: Sequence[datetime]) -> None:
        """Count the instance, run, give the instance back, then publish the events.

        The base class's count/submit/release split is for executors that finish later on
        another thread; here the whole submission happens in this call, so it is done
        inline (one lock section to count, one to release, no hand-over calls) -- this is
        the per-job cost the dispatch benchmark measures.
        """
        if type(self)._do_submit_job is not DebugExecutor._do_submit_job:
            # A subclass that customises the hand-over keeps the base-class path.
            return BaseExecutor.submit_job(self, job, run_times)
        lock = self._lock
        if lock is None:
            raise RuntimeError(
                f"{type(self).__name__} has not been started; add it to a scheduler first"
            )
        job_id = job.id
        instances = self._instances
        with lock:
            active = instances.get(job_id, 0)
            if active >= job.max_instances:
                raise MaxInstancesReachedError(job)
            instances[job_id] = active + 1
        try:
            # Only interrupts escape run_job (job errors become events); the instance is
            # given back below either way and the interrupt carries on.
            events = run_job(job, job._jobstore_alias, run_times, self._logger)
        finally:
            with lock:
                remaining = instances.get(job_id, 0) - 1
                if remaining > 0:
                    instances[job_id] = remaining
                else:
                    del instances[job_id]
        self._publish(events)

    def _do_submit_job(self, job: Any, run_times: Sequence[datetime]) -> None:
        # Kept for subclasses and callers of the base-class path; submit_job does not use it.
        events = run_job(job, job._jobstore_alias, run_times, self._logger)
        self._run_job_success(job.id, events)
