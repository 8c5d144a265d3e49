"""Run a job once, now, outside its schedule (``%schedule run JOB`` and the panel's button).

APScheduler has no such call; the notebook layer needs one and both of its front doors must
behave the same, so it lives here once.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from nbsched.events import EVENT_JOB_SUBMITTED, JobSubmissionEvent

__all__ = ["run_now"]


def run_now(scheduler: Any, job: Any) -> datetime:
    """Hand ``job`` to its executor for one run at the current time; return that time.

    The stored job and its schedule are untouched. The run is submitted as a copy without a
    misfire grace time: a run asked for by hand must happen however long a fresh worker
    process takes to start (with the job's own 1 s grace, a first process-pool run was
    reported as missed). It counts against ``max_instances`` like any run.

    :raises MaxInstancesReachedError: the job already has ``max_instances`` runs going
    """
    when = datetime.now(scheduler.timezone)
    executor = scheduler._lookup_executor(job.executor)
    run = copy.copy(job)
    run.misfire_grace_time = None
    run._scheduler, run._jobstore_alias = job._scheduler, job._jobstore_alias
    executor.submit_job(run, [when])
    scheduler._dispatch_event(
        JobSubmissionEvent(EVENT_JOB_SUBMITTED, job.id, job._jobstore_alias, [when])
    )
    return when
