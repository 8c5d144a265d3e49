"""An executor that runs jobs right away in the thread that submits them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from nbsched.executors.base import BaseExecutor, run_job

__all__ = ["DebugExecutor"]


class DebugExecutor(BaseExecutor):
    """Run each job synchronously in the scheduler's own thread.

    Useful in tests (a run has finished, and its events have been published, by the time
    ``submit_job`` returns) and for stepping through a job in a debugger. It is also the
    cheapest executor, so the engine benchmarks use it to measure the scheduler alone. A
    long job blocks the scheduler while it runs.

    Plugin alias: ``debug``
    """

    def _do_submit_job(self, job: Any, run_times: Sequence[datetime]) -> None:
        # Only interrupts escape run_job (job errors become events); submit_job then gives
        # the instance back and the interrupt carries on.
        events = run_job(job, job._jobstore_alias, run_times, self._logger.name)
        self._run_job_success(job.id, events)
