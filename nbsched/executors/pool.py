"""Executors backed by ``concurrent.futures`` thread and process pools."""

from __future__ import annotations

import concurrent.futures
import itertools
import multiprocessing
import os
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


#: How many times one submission is moved to a replacement pool because its pool broke before
#: any worker began it; a submission bumped more often than that is reported as crashed (a
#: pool that cannot run anything, say because its initializer kills the worker, must not make
#: the executor replace pools forever).
MAX_RESUBMITS = 3

#: How long the parent waits for a start gate's lock when a pool breaks. The lock is held for
#: a few instructions per run; failing to get it means a worker died holding it, and then the
#: runs of that pool are conservatively treated as begun.
_GATE_TIMEOUT = 2.0

_GATE_OPEN = object()

# Layout of a start gate (a shared array of signed 64-bit integers): the highest submission
# number begun, the "closed" flag, an "untracked" flag (a worker found no free slot), then one
# slot per worker: (pid, number of the run it began last, 1 once that run has returned).
_BEGUN, _CLOSED, _UNTRACKED, _SLOTS = 0, 1, 2, 3
_SLOT_SIZE = 3

# -- worker side -------------------------------------------------------------------------

_worker_gate: Any = None


def _init_worker(gate: Any, initializer: Any, initargs: tuple[Any, ...]) -> None:
    """Worker initializer: keep the pool's start gate, then run the user's initializer."""
    global _worker_gate
    _worker_gate = gate
    if initializer is not None:
        initializer(*initargs)


def _claim_slot(state: Any, pid: int) -> int | None:
    """Index of this worker's slot: its own, else a free one, else one whose run returned."""
    free = finished = None
    for index in range(_SLOTS, len(state) - _SLOT_SIZE + 1, _SLOT_SIZE):
        owner = state[index]
        if owner == pid:
            return index
        if owner == 0 and free is None:
            free = index
        elif state[index + 2] and finished is None:
            finished = index
    return free if free is not None else finished


def _run_in_worker(
    number: int,
    job_id: str,
    jobstore_alias: str | None,
    run_times: Sequence[datetime],
    logger_name: str,
    packed: bytes,
) -> bytes | None:
    """Pass the start gate (record ``number`` as begun by this pid), then run the packed call.

    Returns None without running anything when the gate is closed: the parent has declared
    this pool broken and may already have handed the submission to a replacement pool.
    """
    gate = _worker_gate
    slot = None
    if gate is not None:
        pid = os.getpid()
        with gate.get_lock():
            state = gate.get_obj()
            if state[_CLOSED]:
                return None
            if number > state[_BEGUN]:
                state[_BEGUN] = number
            slot = _claim_slot(state, pid)
            if slot is None:
                state[_UNTRACKED] = 1
            else:
                state[slot], state[slot + 1], state[slot + 2] = pid, number, 0
    try:
        return run_packed_call(job_id, jobstore_alias, run_times, logger_name, packed)
    finally:
        if slot is not None:
            with gate.get_lock():
                state = gate.get_obj()
                if state[slot + 1] == number:
                    state[slot + 2] = 1


# -- parent side -------------------------------------------------------------------------


class _GateSnapshot:
    """What a broken pool's workers had begun when its start gate was closed."""

    def __init__(self, begun: int, runs: dict[int, tuple[int, bool]], exited: frozenset[int]):
        self.begun = begun  # highest submission number begun
        self.runs = runs  # number -> (pid, returned) of the last run each worker began
        self.exited = exited  # pids of the workers that died by themselves

    def worker_crash_pid(self, number: int) -> int | None:
        """The pid of the worker that died by itself while running ``number``, else None."""
        pid, returned = self.runs.get(number, (0, True))
        return pid if not returned and pid in self.exited else None

    def interrupted(self, number: int) -> bool:
        """Whether ``number`` was still running in a worker that did not die by itself (the
        pool is about to terminate it). When no worker is seen to have exited, the crashed
        one cannot be told apart and every run still running counts as interrupted; each is
        run again at most once, so a run that crashes its worker again is then reported."""
        pid, returned = self.runs.get(number, (0, True))
        return not returned and pid not in self.exited


class _WorkerPool(concurrent.futures.ProcessPoolExecutor):
    """A process pool whose workers record which submissions they have begun.

    Each submission is numbered in the order it is queued. Before calling the job, a worker
    takes the pool's *start gate* (a lock and shared integers): unless the gate is closed it
    raises the shared "highest number begun" to its own number and records (pid, number) in
    its slot; when the job returns it marks the slot as returned. When the pool breaks the
    parent closes the gate, after which no worker of this pool begins anything. A submission
    numbered above the recorded highest has then provably not reached the job's code and can
    run in a replacement pool. A begun run is told apart by its slot: its worker died by
    itself (reported as crashed), or it was running in a worker the pool is about to
    terminate (run again once), or it had returned (never run again).
    """

    def __init__(
        self,
        max_workers: int,
        *,
        mp_context: multiprocessing.context.BaseContext,
        initializer: Any = None,
        initargs: Sequence[Any] = (),
        **kwargs: Any,
    ) -> None:
        # Twice as many slots as workers: a worker replaced under ``max_tasks_per_child``
        # leaves its slot behind until another worker reuses it.
        self._start_gate = mp_context.Array("q", _SLOTS + _SLOT_SIZE * 2 * max(1, max_workers))
        super().__init__(
            max_workers,
            mp_context=mp_context,
            initializer=_init_worker,
            initargs=(self._start_gate, initializer, tuple(initargs)),
            **kwargs,
        )
        self._numbers = itertools.count(1)
        self._gate_lock = threading.Lock()
        self._begun_at_close: Any = _GATE_OPEN

    def submit_numbered(self, *args: Any) -> tuple[int, concurrent.futures.Future]:
        number = next(self._numbers)
        future = self.submit(_run_in_worker, number, *args)
        # ``submit`` wakes the manager thread *before* it spawns a worker for the new
        # submission, so the manager can go back to waiting without watching that worker;
        # its crash would then go unnoticed until the next submission or result. Wake it
        # again now that the worker exists.
        try:
            with self._shutdown_lock:
                if not self._broken and not self._shutdown_thread:
                    self._executor_manager_thread_wakeup.wakeup()
        except Exception:  # internals differ or are torn down: the stdlib behaviour stays
            pass
        return number, future

    def close_gate(self) -> _GateSnapshot | None:
        """Stop this pool's workers from beginning runs; return what they had begun.

        None when that cannot be known (a worker died holding the gate's lock, or a worker
        found no slot to record itself in). Idempotent: every call returns the first answer.
        """
        with self._gate_lock:
            if self._begun_at_close is _GATE_OPEN:
                lock = self._start_gate.get_lock()
                snapshot = None
                if lock.acquire(timeout=_GATE_TIMEOUT):
                    try:
                        state = self._start_gate.get_obj()
                        state[_CLOSED] = 1
                        if not state[_UNTRACKED]:
                            runs = {}
                            for index in range(_SLOTS, len(state), _SLOT_SIZE):
                                pid, number, returned = state[index : index + _SLOT_SIZE]
                                if pid:
                                    runs[int(number)] = (int(pid), bool(returned))
                            snapshot = _GateSnapshot(int(state[_BEGUN]), runs, self._exited_pids())
                    finally:
                        lock.release()
                self._begun_at_close = snapshot
            return self._begun_at_close

    def _exited_pids(self) -> frozenset[int]:
        """The workers that have exited. Called as the pool is found broken, before it
        terminates the others, so these are the ones that died by themselves."""
        try:
            processes = list((self._processes or {}).values())
            return frozenset(p.pid for p in processes if p.exitcode is not None)
        except Exception:
            return frozenset()

    def manager_thread(self) -> threading.Thread | None:
        return getattr(self, "_executor_manager_thread", None)


class ProcessPoolExecutor(BasePoolExecutor):
    """Run jobs in worker processes: for CPU-bound jobs, or to isolate crashes.

    Differs from APScheduler 3.11 in a few ways. Functions that are not importable in the
    worker (defined in ``__main__`` or a notebook, lambdas, closures, partials) are sent by
    value with cloudpickle. Return values and exceptions that cannot be sent back become
    clear error events instead of a lost result. A worker that dies (``os._exit``, a
    segfault, the OOM killer) turns the run it was running into an ``EVENT_JOB_ERROR``
    event with a :class:`~nbsched.executors.callpayload.WorkerCrashedError`; the pool is
    replaced, runs of other jobs that the broken pool's other workers had begun are run
    again once (with a warning naming the job), and runs that were only queued in the broken
    pool, and jobs submitted after the crash, run in the replacement (as in APScheduler,
    which replaces a pool it finds broken at submission). ``shutdown()`` also disposes of the
    broken pools, so nothing of them outlives it.

    Plugin alias: ``processpool``

    :param max_workers: the largest number of worker processes
    :param pool_kwargs: extra keyword arguments for
        :class:`concurrent.futures.ProcessPoolExecutor`; ``mp_context`` may be a context or a
        start method name (``"spawn"``, ``"forkserver"``, ``"fork"``); the default is
        :func:`default_mp_context`
    """

    _pool: _WorkerPool

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
        initializer = pool_kwargs.get("initializer")
        if initializer is not None and not callable(initializer):
            raise TypeError(f"pool_kwargs['initializer']: expected a callable, got {initializer!r}")
        self._retired: list[_WorkerPool] = []
        super().__init__(max_workers, pool_kwargs)

    def _make_pool(self) -> _WorkerPool:
        return _WorkerPool(self._max_workers, **self.pool_kwargs)

    # -- broken pools ------------------------------------------------------------------

    def _replace_broken_pool(self, broken: _WorkerPool) -> None:
        with self._pool_lock:
            if self._pool is broken and not self._pool_shut_down:
                self._logger.warning("A worker process died; replacing the process pool")
                # Keep the broken pool referenced until it is shut down: on Python 3.12+
                # dropping the last reference while its manager thread is still failing the
                # queued futures deadlocks that thread (its weakref callback takes a lock the
                # thread holds), and interpreter exit then waits for it forever.
                self._retired.append(broken)
                self._pool = self._make_pool()

    def _dispose_retired(self, *, only_finished: bool) -> None:
        """Shut down broken pools (all, or those whose manager thread has ended)."""
        me = threading.current_thread()
        with self._pool_lock:
            dispose, keep = [], []
            for pool in self._retired:
                thread = pool.manager_thread()
                running = thread is not None and thread.is_alive()
                if thread is me or (only_finished and running):
                    keep.append(pool)
                else:
                    dispose.append(pool)
            self._retired = keep
        for pool in dispose:
            try:
                pool.shutdown(wait=True)
            except Exception:  # a broken pool's internals may be half torn down already
                self._logger.debug("Error shutting down a broken process pool", exc_info=True)

    def start(self, scheduler: Any, alias: str) -> None:
        super().start(scheduler, alias)
        self._dispose_retired(only_finished=True)

    def shutdown(self, wait: bool = True) -> None:
        """Shut the pool down (and any broken pools it replaced).

        :param wait: ``True`` to return only after submitted runs finished
        """
        super().shutdown(wait)
        # A broken pool has no runs left; waiting for its manager thread takes as long as
        # terminating its workers, so it is done even for ``wait=False``.
        self._dispose_retired(only_finished=False)

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

    # -- submission ----------------------------------------------------------------------

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
        self._dispose_retired(only_finished=True)
        self._submit(job, run_times, packed, 0, False)

    def _submit(
        self, job: Any, run_times: list[datetime], packed: bytes, moves: int, rerun: bool
    ) -> None:
        """Queue one submission in the current pool, replacing the pool if it is broken.

        :raises RuntimeError: if the executor has been shut down
        """
        args = (job.id, job._jobstore_alias, run_times, self._logger.name, packed)
        for _ in range(MAX_RESUBMITS + 1):
            with self._pool_lock:
                pool = self._pool
            try:
                number, future = pool.submit_numbered(*args)
                break
            except BrokenProcessPool:
                # Broken while idle (a worker was killed between jobs): nothing of this
                # submission reached it, so it simply goes to the replacement.
                self._replace_broken_pool(pool)
                with self._pool_lock:
                    if self._pool is pool:  # shut down: not replaced
                        raise
        else:
            raise BrokenProcessPool("every replacement process pool broke at once")

        def done(future: concurrent.futures.Future) -> None:
            self._finished(job, run_times, packed, moves, rerun, pool, number, future)

        future.add_done_callback(done)

    def _finished(
        self,
        job: Any,
        run_times: list[datetime],
        packed: bytes,
        moves: int,
        rerun: bool,
        pool: _WorkerPool,
        number: int,
        future: concurrent.futures.Future,
    ) -> None:
        if future.cancelled():
            self._run_job_error(job.id, concurrent.futures.CancelledError())
            return
        exc = future.exception()
        if exc is None:
            reply = future.result()
            if reply is None:  # defensive: the gate was closed yet a reply arrived
                exc = BrokenProcessPool("the run was refused by a closed start gate")
            else:
                try:
                    events = load_events(reply)
                except Exception as load_exc:
                    self._report_failed_runs(job, run_times, load_exc)
                else:
                    self._run_job_success(job.id, events)
                return
        if not isinstance(exc, BrokenProcessPool):
            self._report_failed_runs(job, run_times, exc)
            return

        # Runs in the broken pool's manager thread, while it fails the queued futures (and
        # before it terminates the workers that are still alive).
        detail = self._dead_workers(pool)
        suffix = f" ({detail})" if detail else ""
        gate = pool.close_gate()
        self._replace_broken_pool(pool)
        if gate is not None and number > gate.begun:
            if moves < MAX_RESUBMITS:
                try:
                    self._submit(job, run_times, packed, moves + 1, rerun)
                except Exception as resubmit_exc:
                    reason = f"it could not be moved to a new pool ({resubmit_exc})"
                else:
                    self._logger.info(
                        "Job %s had not started when its process pool broke; it was queued "
                        "in the replacement pool",
                        job.id,
                    )
                    return
            else:
                reason = f"its process pool broke {moves + 1} times before it could start"
            crash = WorkerCrashedError(f"job {job.id!r} did not run: {reason}{suffix}")
        elif gate is not None and gate.interrupted(number) and not rerun:
            # Begun in a worker that did not die itself: the pool is about to terminate
            # that worker only because another one died. Run it again, once.
            try:
                self._submit(job, run_times, packed, moves, True)
            except Exception as resubmit_exc:
                crash = WorkerCrashedError(
                    f"job {job.id!r} was interrupted when another worker process died, and "
                    f"could not be run again in a new pool ({resubmit_exc}){suffix}"
                )
            else:
                self._logger.warning(
                    "Job %s was interrupted because another worker process died%s; it is "
                    "run again (once) in the replacement pool after the worker crash",
                    job.id,
                    suffix,
                )
                return
        elif gate is not None and gate.interrupted(number):
            crash = WorkerCrashedError(
                f"job {job.id!r} was run again after a worker crash and its process pool broke "
                f"again while it was running; it is not run a third time{suffix}"
            )
        elif gate is not None and gate.worker_crash_pid(number) is None and number in gate.runs:
            crash = WorkerCrashedError(
                f"job {job.id!r} returned in its worker process, but the result was lost when "
                f"the process pool broke{suffix}; it is not run again"
            )
        else:
            pid = gate.worker_crash_pid(number) if gate is not None else None
            crash = WorkerCrashedError(
                f"the worker process pool broke while job {job.id!r} was running or "
                f"queued: a worker process terminated abruptly"
                + (f" (pid {pid}, which was running it)" if pid is not None else "")
                + suffix
                + "; the pool has been replaced"
            )
        self._report_failed_runs(job, run_times, crash)
