"""The executor contract and the code that actually runs a job.

An executor decides *where* a run happens (the calling thread, a thread pool, a process
pool, an event loop). What happens around the call is the same everywhere and lives here:
the misfire check for each scheduled run time, timing the call, turning the outcome into a
:class:`~nbsched.events.JobExecutionEvent`, and keeping the per-job count of active runs
that ``max_instances`` is checked against.
"""

from __future__ import annotations

import inspect
import logging
import traceback as traceback_module
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace, TracebackType
from typing import Any

from nbsched.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
    JobExecutionEvent,
)
from nbsched.runcontext import RunContext, enter_run, exit_run, reset_run, set_run

__all__ = [
    "BaseExecutor",
    "MaxInstancesReachedError",
    "error_events",
    "format_exception_text",
    "is_coroutine_callable",
    "run_coroutine_job",
    "run_job",
]

_UTC = timezone.utc
_tuple_new = tuple.__new__


class MaxInstancesReachedError(Exception):
    """The job already has ``max_instances`` runs in progress, so this submission is refused.

    The scheduler turns this into an ``EVENT_JOB_MAX_INSTANCES`` event; the job keeps its
    schedule and simply skips these run times.
    """

    def __init__(self, job: Any) -> None:
        super().__init__(
            f"Job {job.id!r} has already reached its maximum number of running instances "
            f"(max_instances={job.max_instances})"
        )
        self.job_id = job.id
        self.max_instances = job.max_instances

    def __reduce__(self) -> tuple[Any, ...]:
        # The job itself may not pickle; keep the error transportable with what matters.
        return (_rebuild_max_instances_error, (self.job_id, self.max_instances))


def _rebuild_max_instances_error(job_id: str, max_instances: int) -> MaxInstancesReachedError:
    return MaxInstancesReachedError(SimpleNamespace(id=job_id, max_instances=max_instances))


def format_exception_text(exc: BaseException, tb: TracebackType | None = None) -> str:
    """Format an exception the way Python prints it, frames first and the message last.

    APScheduler 3 stores only the frame lines (``format_tb``); users reading run history want
    the exception type and message too, and chained causes, so we keep the full text.
    """
    if tb is None:
        tb = exc.__traceback__
    return "".join(traceback_module.format_exception(type(exc), exc, tb))


def is_coroutine_callable(func: Any) -> bool:
    """Tell whether calling ``func`` returns a coroutine to await.

    Looks through ``functools.partial`` (``inspect`` does that already) and at the
    ``__call__`` of callable objects, so an ``async def __call__`` counts too.
    """
    if inspect.iscoroutinefunction(func):
        return True
    call = getattr(func, "__call__", None)  # noqa: B004 - we want the bound method itself
    return call is not None and not inspect.isroutine(func) and inspect.iscoroutinefunction(call)


def error_events(
    job_id: str,
    jobstore_alias: str | None,
    run_times: Iterable[datetime],
    exc: BaseException,
    traceback_text: str | None = None,
) -> list[JobExecutionEvent]:
    """Build one ``EVENT_JOB_ERROR`` per run time for runs that failed outside the job.

    Used when the machinery around a run broke (a dead worker process, a job that could not
    be loaded in the worker) so every affected run still shows up in history as an error
    instead of vanishing.
    """
    now = datetime.now(_UTC)
    text = traceback_text if traceback_text is not None else format_exception_text(exc)
    return [
        JobExecutionEvent(
            EVENT_JOB_ERROR,
            job_id,
            jobstore_alias,
            run_time,
            exception=exc,
            traceback=text,
            start_time=now,
            end_time=now,
        )
        for run_time in run_times
    ]


def _missed_by(job: Any, run_time: datetime, now: datetime) -> timedelta | None:
    """How late ``run_time`` is, if that is beyond the job's grace time; else None."""
    grace = job.misfire_grace_time
    if grace is None:
        return None
    late = now - run_time
    if late > timedelta(seconds=grace):
        return late
    return None


def _user_traceback(tb: TracebackType | None) -> TracebackType | None:
    """Drop this module's own frame so tracebacks start at the job's function."""
    return tb.tb_next if tb is not None and tb.tb_next is not None else tb


def run_job(
    job: Any,
    jobstore_alias: str | None,
    run_times: Sequence[datetime],
    logger_name: str | logging.Logger,
) -> list[JobExecutionEvent]:
    """Run ``job`` once for each of ``run_times`` and return the events describing the runs.

    A run time later than the job's ``misfire_grace_time`` at the moment its turn comes is
    reported as ``EVENT_JOB_MISSED`` and not run. Exceptions raised by the job (including
    ``SystemExit``) become ``EVENT_JOB_ERROR`` events; ``KeyboardInterrupt`` propagates so a
    Ctrl-C during a debug run still stops the program.

    ``logger_name`` may be the logger itself: executors that run in-process pass theirs so
    no registry lookup happens per run (this function is on the dispatch hot path).
    """
    events: list[JobExecutionEvent] = []
    logger = (
        logger_name if isinstance(logger_name, logging.Logger) else logging.getLogger(logger_name)
    )
    info = logger.isEnabledFor(logging.INFO)
    func, args, kwargs, job_id = job.func, job.args, job.kwargs, job.id
    grace = job.misfire_grace_time
    now = datetime.now
    for run_time in run_times:
        start = now(_UTC)
        if grace is not None:
            late = _missed_by(job, run_time, start)
            if late is not None:
                events.append(
                    JobExecutionEvent(EVENT_JOB_MISSED, job_id, jobstore_alias, run_time)
                )
                logger.warning('Run time of job "%s" was missed by %s', job, late)
                continue

        if info:
            logger.info('Running job "%s" (scheduled at %s)', job, run_time)
        # The run context marks everything the call does (prints, logs, displays) as this
        # run's, so output capture can route it to the job's log instead of a cell.
        token = enter_run(_tuple_new(RunContext, (job_id, jobstore_alias, run_time)))
        try:
            retval = func(*args, **kwargs)
        except BaseException as exc:
            exit_run(token)
            if not isinstance(exc, (Exception, SystemExit)):
                raise
            end = now(_UTC)
            tb = _user_traceback(exc.__traceback__)
            events.append(
                JobExecutionEvent(
                    EVENT_JOB_ERROR,
                    job_id,
                    jobstore_alias,
                    run_time,
                    exception=exc,
                    traceback=format_exception_text(exc, tb),
                    start_time=start,
                    end_time=end,
                )
            )
            logger.error('Job "%s" raised an exception', job, exc_info=(type(exc), exc, tb))
            # Frames hold locals alive through the traceback; release them now.
            traceback_module.clear_frames(exc.__traceback__)
            del exc, tb
        else:
            exit_run(token)
            events.append(
                JobExecutionEvent(
                    EVENT_JOB_EXECUTED, job_id, jobstore_alias, run_time, retval, None, None,
                    start, now(_UTC),
                )
            )
            if info:
                logger.info('Job "%s" executed successfully', job)
    return events


async def run_coroutine_job(
    job: Any, jobstore_alias: str | None, run_times: Sequence[datetime], logger_name: str
) -> list[JobExecutionEvent]:
    """The coroutine twin of :func:`run_job`: awaits the job's coroutine for each run time.

    Cancellation (``asyncio.CancelledError``) propagates: a cancelled task stops, it is not
    a job failure.
    """
    events: list[JobExecutionEvent] = []
    logger = (
        logger_name if isinstance(logger_name, logging.Logger) else logging.getLogger(logger_name)
    )
    for run_time in run_times:
        start = datetime.now(_UTC)
        late = _missed_by(job, run_time, start)
        if late is not None:
            events.append(JobExecutionEvent(EVENT_JOB_MISSED, job.id, jobstore_alias, run_time))
            logger.warning('Run time of job "%s" was missed by %s', job, late)
            continue

        logger.info('Running job "%s" (scheduled at %s)', job, run_time)
        # Set inside the task: the variable is local to this task's context, so the cell and
        # other tasks on the same loop thread never see it.
        token = set_run(RunContext(job.id, jobstore_alias, run_time))
        try:
            retval = await job.func(*job.args, **job.kwargs)
        except BaseException as exc:
            reset_run(token)
            if not isinstance(exc, (Exception, SystemExit)):
                raise
            end = datetime.now(_UTC)
            tb = _user_traceback(exc.__traceback__)
            events.append(
                JobExecutionEvent(
                    EVENT_JOB_ERROR,
                    job.id,
                    jobstore_alias,
                    run_time,
                    exception=exc,
                    traceback=format_exception_text(exc, tb),
                    start_time=start,
                    end_time=end,
                )
            )
            logger.error('Job "%s" raised an exception', job, exc_info=(type(exc), exc, tb))
            traceback_module.clear_frames(exc.__traceback__)
            del exc, tb
        else:
            reset_run(token)
            events.append(
                JobExecutionEvent(
                    EVENT_JOB_EXECUTED,
                    job.id,
                    jobstore_alias,
                    run_time,
                    retval=retval,
                    start_time=start,
                    end_time=datetime.now(_UTC),
                )
            )
            logger.info('Job "%s" executed successfully', job)
    return events


class BaseExecutor(ABC):
    """Where jobs run. Subclasses implement :meth:`_do_submit_job`.

    The base class owns the count of active runs per job id. A submission counts as one
    instance however many run times it covers (the scheduler hands over all due run times
    of a job at once, or just the latest one when coalescing).
    """

    _scheduler: Any = None
    _lock: Any = None
    _logger = logging.getLogger("nbsched.executors")

    def __init__(self) -> None:
        self._instances: dict[str, int] = {}
        self._alias: str | None = None

    def start(self, scheduler: Any, alias: str) -> None:
        """Attach to ``scheduler`` (called when it starts or when this executor is added).

        :param scheduler: the scheduler; results go to its ``_dispatch_event``
        :param alias: the name this executor was registered under
        """
        self._scheduler = scheduler
        self._lock = scheduler._create_lock()
        self._alias = alias
        self._logger = logging.getLogger(f"nbsched.executors.{alias}")

    def shutdown(self, wait: bool = True) -> None:  # noqa: B027 - optional hook
        """Stop accepting jobs and release resources.

        :param wait: ``True`` to return only after the runs already submitted have finished
        """

    def submit_job(self, job: Any, run_times: Sequence[datetime]) -> None:
        """Run ``job`` for ``run_times`` (one submission, one instance).

        :raises MaxInstancesReachedError: if ``job.max_instances`` runs are already active
        :raises RuntimeError: if the executor was never started

        A subclass's :meth:`_do_submit_job` raises only when it did *not* take the job;
        the instance counted for it is then given back here.
        """
        if self._lock is None:
            raise RuntimeError(
                f"{type(self).__name__} has not been started; add it to a scheduler first"
            )
        job_id = job.id
        with self._lock:
            active = self._instances.get(job_id, 0)
            if active >= job.max_instances:
                raise MaxInstancesReachedError(job)
            # Count the instance before handing the job over: a fast executor (the debug one,
            # or a thread that finishes at once) reports completion before we would get back.
            self._instances[job_id] = active + 1
        try:
            self._do_submit_job(job, run_times)
        except BaseException:
            self._release(job_id)
            raise

    @abstractmethod
    def _do_submit_job(self, job: Any, run_times: Sequence[datetime]) -> None:
        """Arrange for :func:`run_job` (or an equivalent) to run and report back."""

    def _release(self, job_id: str) -> None:
        with self._lock:
            remaining = self._instances.get(job_id, 0) - 1
            if remaining > 0:
                self._instances[job_id] = remaining
            else:
                self._instances.pop(job_id, None)

    def _run_job_success(self, job_id: str, events: Iterable[JobExecutionEvent]) -> None:
        """A submission finished (whatever the job did): free its instance, publish events."""
        self._release(job_id)
        self._publish(events)

    def _publish(self, events: Iterable[JobExecutionEvent]) -> None:
        """Hand run events to the scheduler, one by one."""
        dispatch = self._scheduler._dispatch_event
        for event in events:
            try:
                dispatch(event)
            except Exception:
                # A failing listener must not lose the remaining events or, in the debug
                # executor, look like a failed submission.
                self._logger.exception("Error dispatching %r", event)

    def _run_job_error(
        self, job_id: str, exc: BaseException, traceback: TracebackType | None = None
    ) -> None:
        """The machinery around a run failed (not the job itself): free the instance and log."""
        self._release(job_id)
        if traceback is None:
            traceback = exc.__traceback__
        self._logger.error("Error running job %s", job_id, exc_info=(type(exc), exc, traceback))

    def _report_failed_runs(
        self,
        job: Any,
        run_times: Sequence[datetime],
        exc: BaseException,
        traceback_text: str | None = None,
    ) -> None:
        """Publish an error event per run time when the executor, not the job, failed."""
        self._run_job_success(
            job.id, error_events(job.id, job._jobstore_alias, run_times, exc, traceback_text)
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} (alias={self._alias!r})>"
