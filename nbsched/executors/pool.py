"""Executors backed by ``concurrent.futures`` thread and process pools."""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime
from typing import Any

from nbsched.executors.base import BaseExecutor, run_job
from nbsched.executors.callpayload import (
    WorkerCrashedError,
    load_events,
    pack_call,
    run_packed_call,
)

__all__ = ["BasePoolExecutor", "ProcessPoolExecutor", "ThreadPoolExecutor", "default_mp_context"]


def _check_max_workers(max_workers: Any) -> int:
    try:
        count = int(max_workers)
    except (TypeError, ValueError):
        raise TypeError(f"max_workers: expected a positive integer, got {max_workers!r}") from None
    if count < 1:
        raise ValueError(f"max_workers: must be at least 1, got {max_workers!r}")
    return count


def _check_pool_kwargs(pool_kwargs: Mapping[str, Any] | None) -> dict[str, Any]:
    if pool_kwargs is None:
        return {}
    if not isinstance(pool_kwargs, Mapping):
        raise TypeError(f"pool_kwargs: expected a dict or None, got {pool_kwargs!r}")
    return dict(pool_kwargs)


def default_mp_context() -> multiprocessing.context.BaseContext:
    """The start method used for worker processes unless ``pool_kwargs`` says otherwise.

    ``forkserver`` where the platform has it, ``spawn`` elsewhere (Windows). Plain ``fork``
    copies the scheduler's threads' locks in whatever state they are (a worker can hang
    on a logging lock held at fork time) and is unsafe in a Jupyter kernel; ``spawn``
    is safe but starts a fresh interpreter for every worker. The fork server starts one
    clean interpreter once and forks workers from it, so replacing a crashed pool is cheap.
    """
    if "forkserver" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("forkserver")
    return multiprocessing.get_context("spawn")


class BasePoolExecutor(BaseExecutor):
    """Common code of the pool executors: owns a pool, recreates it if restarted."""

    def __init__(self, max_workers: int, pool_kwargs: Mapping[str, Any] | None) -> None:
        super().__init__()
        self._max_workers = _check_max_workers(max_workers)
        self.pool_kwargs = _check_pool_kwargs(pool_kwargs)
        self._pool_lock = threading.Lock()
        self._pool: concurrent.futures.Executor = self._make_pool()
        self._pool_shut_down = False

    def _make_pool(self) -> concurrent.futures.Executor:
        raise NotImplementedError

    def start(self, scheduler: Any, alias: str) -> None:
        """Attach to the scheduler; a pool closed by an earlier shutdown is replaced."""
        super().start(scheduler, alias)
        with self._pool_lock:
            if self._pool_shut_down:
                self._pool = self._make_pool()
                self._pool_shut_down = False

    def shutdown(self, wait: bool = True) -> None:
        """Shut the pool down; with ``wait`` return only after submitted runs finished."""
        with self._pool_lock:
            pool = self._pool
            self._pool_shut_down = True
        pool.shutdown(wait)


class ThreadPoolExecutor(BasePoolExecutor):
    """Run jobs in a pool of threads: the right default for I/O-bound jobs.

    Plugin alias: ``threadpool``

    :param max_workers: the largest number of jobs running at once
    :param pool_kwargs: extra keyword arguments for :class:`concurrent.futures.ThreadPoolExecutor`
        (for instance ``thread_name_prefix`` or ``initializer``)
    """

    def __init__(self, max_workers: int = 10, pool_kwargs: Mapping[str, Any] | None = None):
        super().__init__(max_workers, pool_kwargs)

    def _make_pool(self) -> concurrent.futures.Executor:
        kwargs = {"thread_name_prefix": "nbsched-worker", **self.pool_kwargs}
        return concurrent.futures.ThreadPoolExecutor(self._max_workers, **kwargs)

    def _do_submit_job(self, job: Any, run_times: Sequence[datetime]) -> None:
        job_id = job.id

        def done(future: concurrent.futures.Future) -> None:
            if future.cancelled():
                self._run_job_error(job_id, concurrent.futures.CancelledError())
                return
            exc = future.exception()
            if exc is not None:
                self._run_job_error(job_id, exc, exc.__traceback__)
            else:
                self._run_job_success(job_id, future.result())

        future = self._pool.submit(run_job, job, job._jobstore_alias, run_times, self._logger.name)
        future.add_done_callback(done)


class ProcessPoolExecutor(BasePoolExecutor):
    """Run jobs in worker processes: for CPU-bound jobs, or to isolate crashes.

    Differs from APScheduler 3.11 in three ways. Functions that are not importable in the
    worker (defined in ``__main__`` or a notebook, lambdas, closures, partials) are sent by
    value with cloudpickle. Return values and exceptions that cannot be sent back become
    clear error events instead of a lost result. A worker that dies (``os._exit``, a
    segfault, the OOM killer) turns the runs it took down into ``EVENT_JOB_ERROR`` events
    with a :class:`~nbsched.executors.callpayload.WorkerCrashedError`, and the pool is
    replaced so later jobs run normally.

    Plugin alias: ``processpool``

    :param max_workers: the largest number of worker processes
    :param pool_kwargs: extra keyword arguments for
        :class:`concurrent.futures.ProcessPoolExecutor`; ``mp_context`` may be a context or a
        start method name (``"spawn"``, ``"forkserver"``, ``"fork"``); the default is
        :func:`default_mp_context`
    """

    def __init__(self, max_workers: int = 10, pool_kwargs: Mapping[str, Any] | None = None):
        pool_kwargs = _check_pool_kwargs(pool_kwargs)
        context = pool_kwargs.get("mp_context")
        if context is None:
            pool_kwargs["mp_context"] = default_mp_context()
        elif isinstance(context, str):
            try:
                pool_kwargs["mp_context"] = multiprocessing.get_context(context)
            except ValueError:
                raise ValueError(
                    f"pool_kwargs['mp_context']: unknown start method {context!r}; expected one "
                    f"of {multiprocessing.get_all_start_methods()}"
                ) from None
        super().__init__(max_workers, pool_kwargs)

    def _make_pool(self) -> concurrent.futures.Executor:
        return concurrent.futures.ProcessPoolExecutor(self._max_workers, **self.pool_kwargs)

    def _replace_broken_pool(self, broken: concurrent.futures.Executor) -> None:
        with self._pool_lock:
            if self._pool is broken and not self._pool_shut_down:
                self._logger.warning("A worker process died; replacing the process pool")
                self._pool = self._make_pool()

    @staticmethod
    def _dead_workers(pool: Any) -> str:
        """Best-effort description of the workers that exited (from the pool's internals)."""
        try:
            processes = list((pool._processes or {}).values())
            codes = [(p.pid, p.exitcode) for p in processes if p.exitcode not in (None, 0)]
        except Exception:
            return ""
        parts = []
        for pid, code in codes:
            if code < 0:
                parts.append(f"pid {pid} killed by signal {-code}")
            else:
                parts.append(f"pid {pid} exited with code {code}")
        return "; ".join(parts)

    def _do_submit_job(self, job: Any, run_times: Sequence[datetime]) -> None:
        run_times = list(run_times)
        try:
            packed = pack_call(job)
        except Exception as exc:
            error = TypeError(
                f"job {job.id!r} cannot be sent to a worker process: {type(exc).__name__}: {exc}"
            )
            self._report_failed_runs(job, run_times, error)
            return

        args = (job.id, job._jobstore_alias, run_times, self._logger.name, packed)
        with self._pool_lock:
            pool = self._pool
        try:
            future = pool.submit(run_packed_call, *args)
        except BrokenProcessPool:
            self._replace_broken_pool(pool)
            with self._pool_lock:
                pool = self._pool
            future = pool.submit(run_packed_call, *args)

        def done(future: concurrent.futures.Future) -> None:
            if future.cancelled():
                self._run_job_error(job.id, concurrent.futures.CancelledError())
                return
            exc = future.exception()
            if exc is None:
                try:
                    events = load_events(future.result())
                except Exception as load_exc:
                    self._report_failed_runs(job, run_times, load_exc)
                else:
                    self._run_job_success(job.id, events)
            elif isinstance(exc, BrokenProcessPool):
                detail = self._dead_workers(pool)
                crash = WorkerCrashedError(
                    f"the worker process pool broke while job {job.id!r} was running or "
                    f"queued: a worker process terminated abruptly"
                    + (f" ({detail})" if detail else "")
                    + "; the pool has been replaced"
                )
                self._replace_broken_pool(pool)
                self._report_failed_runs(job, run_times, crash)
            else:
                self._report_failed_runs(job, run_times, exc)

        future.add_done_callback(done)
