"""The kernel's scheduler: one per process, whose clock keeps ticking while a cell computes.

Why a timing thread and not the kernel's asyncio loop: the kernel's loop does not turn while
a synchronous cell runs — a job due in 1 s fires only after a ``time.sleep(2.5)`` cell ends
(measured). A scheduler that sleeps on that loop would stall every job for the length of the
longest cell. So :class:`KernelScheduler` is a front end whose *timing and dispatch* run in a
small daemon thread (exactly like :class:`~nbsched.schedulers.background.BackgroundScheduler`,
which it extends): it sleeps on an event until the next run time, never polls, and hands due
runs to executors:

* ``default`` — a thread pool (plain functions);
* ``process`` — a process pool (CPU-heavy work; notebook functions travel by value);
* ``asyncio`` — coroutine functions, run as tasks on **the kernel's own loop** (handed over
  thread-safely). In a terminal IPython, which has no loop between cells, a private loop
  thread plays that part. ``nest_asyncio`` is never applied.

Coroutine functions go to ``asyncio`` on their own unless an executor is named. The default
store is the persistent one (``NBSCHED_STORE_URL`` or the SQLite file in the user's data
directory); a ``memory`` store is there for jobs that should not outlive the kernel.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any

from nbsched.executors.base import is_coroutine_callable
from nbsched.schedulers import SchedulerAlreadyRunningError
from nbsched.schedulers.background import BackgroundScheduler

__all__ = ["KernelScheduler", "find_kernel_loop", "get_scheduler", "reset_scheduler"]

logger = logging.getLogger("nbsched.notebook")

_scheduler: KernelScheduler | None = None
_scheduler_lock = threading.Lock()


def find_kernel_loop() -> asyncio.AbstractEventLoop | None:
    """The asyncio loop of the running IPython kernel, or None (terminal IPython, scripts).

    Inside a cell the kernel's loop is the running loop; from another thread it is found
    through the kernel object (ipykernel's ``io_loop`` wraps it).
    """
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        pass
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return None
    shell = get_ipython()
    kernel = getattr(shell, "kernel", None)
    io_loop = getattr(kernel, "io_loop", None)
    loop = getattr(io_loop, "asyncio_loop", None)
    return loop if isinstance(loop, asyncio.AbstractEventLoop) else None


class _PrivateLoop:
    """An asyncio loop in a daemon thread, for coroutine jobs when there is no kernel loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._run, name="nbsched-asyncio", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def stop(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        if not self.loop.is_running():
            self.loop.close()


class KernelScheduler(BackgroundScheduler):
    """The notebook kernel's scheduler (see the module docstring for the design).

    :param loop: the loop coroutine jobs run on (default: the kernel's, found with
        :func:`find_kernel_loop`; a private loop thread when there is none)
    :param store_url: URL of the default persistent store (default:
        :func:`nbsched.store_url.default_store_url`)
    :param process_workers: size of the process pool (default: CPU count)

    Any other option is a normal scheduler option (``timezone``, ``job_defaults``,
    ``jobstores``, ``executors`` …); stores and executors given there win over the defaults.
    """

    def __init__(
        self,
        gconfig: Mapping[str, Any] | None = None,
        *,
        loop: asyncio.AbstractEventLoop | None = None,
        store_url: str | None = None,
        process_workers: int | None = None,
        **options: Any,
    ) -> None:
        self._given_loop = loop
        self._private_loop: _PrivateLoop | None = None
        self._store_url = store_url
        self._process_workers = process_workers or os.cpu_count() or 2
        self._eventloop: asyncio.AbstractEventLoop | None = None
        super().__init__(gconfig, **options)

    # --- defaults -------------------------------------------------------------------------

    def _create_default_jobstore(self) -> Any:
        from nbsched.jobstores.sqlalchemy import SQLAlchemyJobStore
        from nbsched.store_url import default_store_url

        return SQLAlchemyJobStore(url=self._store_url or default_store_url())

    def _add_missing_plugins(self) -> None:
        from nbsched.executors.asyncio import AsyncIOExecutor
        from nbsched.executors.pool import ProcessPoolExecutor, ThreadPoolExecutor
        from nbsched.jobstores.memory import MemoryJobStore

        with self._executors_lock:
            missing = {
                alias: factory
                for alias, factory in (
                    ("default", ThreadPoolExecutor),
                    ("process", lambda: ProcessPoolExecutor(self._process_workers)),
                    ("asyncio", AsyncIOExecutor),
                )
                if alias not in self._executors
            }
        for alias, factory in missing.items():
            self.add_executor(factory(), alias)
        with self._jobstores_lock:
            need_memory = "memory" not in self._jobstores
        if need_memory:
            self.add_jobstore(MemoryJobStore(), "memory")

    # --- life cycle -----------------------------------------------------------------------

    def start(self, paused: bool = False) -> None:
        """Bind coroutine jobs to the kernel loop (or a private one) and start the clock."""
        if self.running:  # before replacing the loop (and private loop) a running one uses
            raise SchedulerAlreadyRunningError
        loop = self._given_loop or find_kernel_loop()
        if loop is None:
            self._private_loop = _PrivateLoop()
            loop = self._private_loop.loop
        self._eventloop = loop
        try:
            self._add_missing_plugins()
            super().start(paused)
        except BaseException:
            # A failed start (store unreachable, bad key) must not leak the loop thread.
            private, self._private_loop = self._private_loop, None
            if private is not None:
                private.stop()
            raise

    def shutdown(self, wait: bool = True) -> None:
        try:
            super().shutdown(wait)
        finally:
            private, self._private_loop = self._private_loop, None
            if private is not None:
                private.stop()

    # --- jobs -----------------------------------------------------------------------------

    def add_job(self, func: Any, trigger: Any = None, *positional: Any, **options: Any) -> Any:
        """As :meth:`BaseScheduler.add_job`; coroutine functions default to ``asyncio``."""
        if (
            len(positional) < 10  # the executor was not passed positionally
            and options.get("executor", "default") == "default"
            and not isinstance(func, str)
            and is_coroutine_callable(func)
        ):
            options["executor"] = "asyncio"
        return super().add_job(func, trigger, *positional, **options)


def get_scheduler(
    setup: Callable[[KernelScheduler], Any] | None = None, **options: Any
) -> KernelScheduler:
    """Return this process's kernel scheduler, creating and starting it on first use.

    Thread-safe and idempotent: every call (and every ``%load_ext nbsched``) gets the same
    object, so re-running a setup cell never creates a second scheduler. A new scheduler is
    started *paused*; restart recovery (abandoned runs, the once-only missed-runs report)
    and ``setup(scheduler)`` (the extension installs output capture there) run before it
    resumes, so no stored job runs before its output can be captured. ``setup`` and
    ``options`` are used only when the scheduler is created.
    """
    global _scheduler
    scheduler = _scheduler
    if scheduler is not None and scheduler.running:
        return scheduler
    with _scheduler_lock:
        if _scheduler is None or not _scheduler.running:
            scheduler = KernelScheduler(**options)
            scheduler.start(paused=True)
            try:
                if setup is not None:
                    setup(scheduler)
                _recover(scheduler)
            except BaseException:
                # Never leave a running scheduler nobody points to: the next call would start
                # a second one on the same store and every job would run twice.
                scheduler.shutdown(wait=False)
                raise
            scheduler.resume()
            _scheduler = scheduler
            logger.info("Kernel scheduler started (pid %d)", os.getpid())
        return _scheduler


def _recover(scheduler: KernelScheduler) -> None:
    """Mark runs a dead kernel left unfinished as abandoned; report missed runs once."""
    try:
        from nbsched.notebook.recovery import recover
    except ImportError:  # pragma: no cover - recovery ships with the notebook layer
        return
    try:
        recover(scheduler)
    except Exception:
        logger.exception("Restart recovery failed; stored jobs still run")


def reset_scheduler(wait: bool = False) -> None:
    """Shut the process's kernel scheduler down; the next :func:`get_scheduler` makes a new one.

    Jobs in persistent stores stay stored and come back with the next scheduler.
    """
    global _scheduler
    with _scheduler_lock:
        scheduler, _scheduler = _scheduler, None
    if scheduler is not None and scheduler.running:
        scheduler.shutdown(wait=wait)


@atexit.register
def _shutdown_at_exit() -> None:
    # Close the pools and the store cleanly when the kernel exits normally.
    try:
        reset_scheduler(wait=False)
    except Exception:  # pragma: no cover - best effort at interpreter exit
        logger.debug("Error shutting the kernel scheduler down at exit", exc_info=True)
