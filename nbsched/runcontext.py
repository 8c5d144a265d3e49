"""Which job run, if any, the code executing right now belongs to.

Output capture (and later ``nbsched.progress()``) must tell a job's ``print`` apart from a
cell's ``print`` when both write to the same ``sys.stdout``. A thread id is not enough: a
coroutine job and the cell share the kernel's one thread. A :mod:`contextvars` variable is
right for all cases — each pool thread, each asyncio task and each worker process has its own
value — so the executors set it around the user's call and everything else only reads it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from datetime import datetime
from typing import NamedTuple

__all__ = [
    "RunContext",
    "current_run",
    "enter_run",
    "exit_run",
    "reset_run",
    "run_context",
    "set_run",
]


class RunContext(NamedTuple):
    """The run in progress: which job, from which store, for which scheduled fire time.

    A named tuple rather than a frozen dataclass: executors build one per run on the
    dispatch hot path, and a tuple is immutable, hashable (capture keys buffers by it) and
    picklable at a quarter of a frozen dataclass's construction cost.
    """

    job_id: str
    jobstore: str | None
    scheduled_time: datetime


_current: ContextVar[RunContext | None] = ContextVar("nbsched_current_run", default=None)


def current_run() -> RunContext | None:
    """The run the calling code belongs to, or None outside any job run."""
    return _current.get()


def set_run(run: RunContext | None) -> Token:
    """Make ``run`` current in this context; give the token to :func:`reset_run` afterwards.

    Executors use the token pair rather than :func:`run_context` on their hot path (no
    generator frame per run).
    """
    if run is not None and not isinstance(run, RunContext):
        raise TypeError(f"run: expected a RunContext or None, got {run!r}")
    return _current.set(run)


#: :func:`set_run` without the argument check, for executors that always pass a
#: :class:`RunContext` they just built (one C call instead of a Python frame per run).
enter_run = _current.set


def reset_run(token: Token) -> None:
    """Restore the run that was current before the matching :func:`set_run`."""
    _current.reset(token)


#: :func:`reset_run` as the bare C call, the pair of :data:`enter_run`.
exit_run = _current.reset


@contextmanager
def run_context(
    job_id: str, jobstore: str | None, scheduled_time: datetime
) -> Iterator[RunContext]:
    """Run the ``with`` body as part of the given job run (for executors and tests)."""
    run = RunContext(job_id, jobstore, scheduled_time)
    token = _current.set(run)
    try:
        yield run
    finally:
        _current.reset(token)
