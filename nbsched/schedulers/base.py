"""BaseScheduler: the APScheduler 3.11 scheduler API on top of the shared core.

Everything a user calls (configure, start/shutdown, add/modify/remove jobs, listeners,
export/import, run history) lives here; due-job processing lives in
:mod:`nbsched.schedulers.core`. Subclasses only implement ``wakeup()`` and, where needed,
``start``/``shutdown`` to set up their way of sleeping.

Store access always happens under ``_jobstores_lock`` so that many threads may add, modify
and remove jobs while the core fires them.
"""

from __future__ import annotations

import inspect
import logging
import threading
import warnings
from abc import ABCMeta, abstractmethod
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from datetime import datetime
from typing import IO, Any

from tzlocal import get_localzone

from nbsched.events import (
    EVENT_ALL,
    EVENT_ALL_JOBS_REMOVED,
    EVENT_EXECUTOR_ADDED,
    EVENT_EXECUTOR_REMOVED,
    EVENT_JOB_ADDED,
    EVENT_JOB_MODIFIED,
    EVENT_JOB_REMOVED,
    EVENT_JOBSTORE_ADDED,
    EVENT_JOBSTORE_REMOVED,
    EVENT_SCHEDULER_PAUSED,
    EVENT_SCHEDULER_RESUMED,
    EVENT_SCHEDULER_SHUTDOWN,
    EVENT_SCHEDULER_STARTED,
    JobEvent,
    SchedulerEvent,
)
from nbsched.executors.base import BaseExecutor
from nbsched.history import HISTORY_EVENTS, RunHistory, RunRecord, records_from_event
from nbsched.job import _NOT_GIVEN, Job, _trigger_types, ref_to_obj
from nbsched.jobstores.base import BaseJobStore, ConflictingIdError, JobLookupError
from nbsched.plugins import load_plugin
from nbsched.schedulers import SchedulerAlreadyRunningError, SchedulerNotRunningError
from nbsched.schedulers.config import (
    DEFAULT_PREFIXES,
    as_int,
    as_seconds,
    flatten_config,
    job_defaults,
)
from nbsched.schedulers.core import STATE_PAUSED, STATE_RUNNING, STATE_STOPPED, SchedulerCore
from nbsched.schedulers.quarantine import QuarantineAPI
from nbsched.timezones import as_timezone
from nbsched.triggers.base import BaseTrigger

__all__ = ["STATE_PAUSED", "STATE_RUNNING", "STATE_STOPPED", "BaseScheduler", "undefined"]

#: Marker for "option not given" (APScheduler exposes the same name).
undefined: Any = _NOT_GIVEN

_DEFAULT_PREFIX: Any = DEFAULT_PREFIXES  # "nbsched." and "apscheduler."
_KNOWN_OPTIONS = frozenset({
    "logger", "timezone", "jobstore_retry_interval", "job_defaults", "executors", "jobstores",
    "max_catchup_runs", "batch_size", "history_size", "read_ahead",
})
_trigger_accepts_timezone: dict[type, bool] = {}


def _accepts_timezone(cls: type) -> bool:
    """Whether a trigger class takes ``timezone=`` (the combining triggers do not)."""
    try:
        return _trigger_accepts_timezone[cls]
    except KeyError:
        pass
    try:
        params = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):
        accepts = True
    else:
        accepts = any(p.name == "timezone" or p.kind is p.VAR_KEYWORD for p in params)
    _trigger_accepts_timezone[cls] = accepts
    return accepts


class BaseScheduler(SchedulerCore, QuarantineAPI, metaclass=ABCMeta):
    """Abstract base of every scheduler (APScheduler 3.11 API).

    Options (keywords, or a dict with ``nbsched.``/``apscheduler.``-prefixed dotted keys):

    * ``timezone`` — default zone for triggers and naive datetimes (local zone by default)
    * ``job_defaults`` — ``misfire_grace_time`` (1), ``coalesce`` (True), ``max_instances`` (1)
    * ``jobstores`` / ``executors`` — alias → instance, or dict with ``type`` (plugin alias)
      or ``class`` (``"module:Class"``) plus constructor options
    * ``jobstore_retry_interval`` — seconds before retrying a failing store (10)
    * ``logger`` — a Logger or logger name (``nbsched.scheduler``)
    * ``max_catchup_runs`` — at most this many missed runs are replayed for a job that does not
      coalesce (100); older ones are skipped with a warning
    * ``batch_size`` — due jobs fetched from a store at a time (1000)
    * ``history_size`` — run records kept in memory (10,000)
    * ``read_ahead`` — seconds before a fire time at which the scheduler wakes to fetch, decode
      and persist the jobs due then, so that at the fire time itself it only submits (0.02;
      0 turns it off; AsyncIOScheduler defaults to 0 because the wait would block its loop)
    """

    def __init__(self, gconfig: Mapping[str, Any] | None = None, **options: Any) -> None:
        super().__init__()
        self._executors: dict[str, BaseExecutor] = {}
        self._executors_lock = self._create_lock()
        self._jobstores: dict[str, BaseJobStore] = {}
        self._jobstores_lock = self._create_lock()
        self._listener_entries: tuple[tuple[Callable[[Any], Any], int], ...] = ()
        self._listeners_lock = self._create_lock()
        self._listener_mask = 0
        self._pending_jobs: list[tuple[Job, str, bool]] = []
        self._trigger_classes: dict[str, type] = {}
        self._history_stores: dict[str, BaseJobStore] = {}
        self._history = RunHistory()
        self.state = STATE_STOPPED
        self.configure(gconfig or {}, **options)

    def __getstate__(self) -> Any:
        raise TypeError(
            "Schedulers cannot be serialized. Ensure that you are not passing a scheduler "
            "instance as an argument to a job, or scheduling an instance method where the "
            "instance contains a scheduler as an attribute."
        )

    # --- configuration ------------------------------------------------------------------------

    def configure(
        self, gconfig: Mapping[str, Any] | None = None, prefix: Any = _DEFAULT_PREFIX,
        **options: Any,
    ) -> None:
        """Reconfigure the (stopped) scheduler.

        :param gconfig: options as a dict; with the default prefix only keys starting with
            ``nbsched.`` or ``apscheduler.`` are used (dotted keys become nested dicts)
        :param prefix: the key prefix to select and strip (empty or None: every key)
        :raises SchedulerAlreadyRunningError: if the scheduler is running
        """
        if self.state != STATE_STOPPED:
            raise SchedulerAlreadyRunningError
        self._configure(flatten_config(gconfig or {}, prefix, options))

    def _configure(self, config: dict[str, Any]) -> None:
        logger = config.pop("logger", None)
        if isinstance(logger, str):
            logger = ref_to_obj(logger) if ":" in logger else logging.getLogger(logger)
        self._logger = logger or logging.getLogger("nbsched.scheduler")
        self.timezone = as_timezone(config.pop("timezone", None)) or as_timezone(get_localzone())
        self.jobstore_retry_interval = float(
            as_seconds(config.pop("jobstore_retry_interval", 10), "jobstore_retry_interval")
        )
        self.max_catchup_runs = self._positive(config.pop("max_catchup_runs", 100),
                                               "max_catchup_runs")
        self.batch_size = self._positive(config.pop("batch_size", 1000), "batch_size")
        self.read_ahead = self._read_ahead_seconds(
            config.pop("read_ahead", self._default_read_ahead)
        )
        history_size = config.pop("history_size", None)
        if history_size is not None:
            self._history = RunHistory(self._positive(history_size, "history_size"))
        self._job_defaults = job_defaults(config.pop("job_defaults", None))

        executors = config.pop("executors", None) or {}
        jobstores = config.pop("jobstores", None) or {}
        unknown = set(config) - _KNOWN_OPTIONS
        if unknown:
            self._logger.warning(
                "Ignoring unknown scheduler options: %s", ", ".join(sorted(unknown))
            )

        self._executors.clear()
        for alias, value in executors.items():
            self.add_executor(self._build_plugin("executor", alias, value), alias)
        self._jobstores.clear()
        self._history_stores.clear()
        for alias, value in jobstores.items():
            self.add_jobstore(self._build_plugin("jobstore", alias, value), alias)

    @staticmethod
    def _read_ahead_seconds(value: Any) -> float:
        seconds = as_seconds(value, "read_ahead")
        if seconds is None:
            return 0.0
        if not 0 <= seconds <= 1:
            raise ValueError(f"read_ahead: {value!r}: must be between 0 and 1 second")
        return float(seconds)

    @staticmethod
    def _positive(value: Any, name: str) -> int:
        number = as_int(value, name)
        if number is None or number < 1:
            raise ValueError(f"{name}: {value!r}: must be a positive integer")
        return number

    def _build_plugin(self, kind: str, alias: str, value: Any) -> Any:
        base = BaseExecutor if kind == "executor" else BaseJobStore
        if isinstance(value, base):
            return value
        if isinstance(value, Mapping):
            options = dict(value)
            plugin = options.pop("type", None)
            class_ref = options.pop("class", None)
            if kind == "executor" and "max_workers" in options:
                options["max_workers"] = as_int(
                    options["max_workers"], f"{kind}s.{alias}.max_workers"
                )
            if plugin:
                return self._create_plugin_instance(kind, plugin, options)
            if class_ref:
                cls = ref_to_obj(class_ref) if isinstance(class_ref, str) else class_ref
                return cls(**options)
            label = "job store" if kind == "jobstore" else kind
            raise ValueError(
                f'Cannot create {label} "{alias}" -- either "type" or "class" must be defined'
            )
        label = "job store" if kind == "jobstore" else kind
        raise TypeError(
            f"Expected {label} instance or dict for {kind}s['{alias}'], got "
            f"{type(value).__name__} instead"
        )

    def _create_plugin_instance(self, kind: str, alias: str, options: Mapping[str, Any]) -> Any:
        group = {"trigger": "nbsched.triggers", "executor": "nbsched.executors",
                 "jobstore": "nbsched.jobstores"}[kind]
        cls = load_plugin(group, alias)
        base = {"trigger": BaseTrigger, "executor": BaseExecutor, "jobstore": BaseJobStore}[kind]
        if not (isinstance(cls, type) and issubclass(cls, base)):
            raise TypeError(f"The {kind} entry point {alias!r} does not point to a {kind} class")
        return cls(**options)

    # --- life cycle ---------------------------------------------------------------------------

    def start(self, paused: bool = False) -> None:
        """Start executors and stores, schedule pending jobs and begin processing.

        A start that raises (a store that cannot connect, two pending jobs with one id)
        changes nothing: what it had started is shut down again and the pending jobs stay
        pending, so the call can be repeated once the cause is fixed.

        :param paused: if True, process no jobs until :meth:`resume` is called
        :raises SchedulerAlreadyRunningError: if already started
        """
        if self.state != STATE_STOPPED:
            raise SchedulerAlreadyRunningError
        started: list[Any] = []
        stored: list[tuple[Job, str]] = []
        with self._executors_lock, self._jobstores_lock:
            added_defaults: list[tuple[dict[str, Any], str]] = []
            try:
                if "default" not in self._executors:
                    self.add_executor(self._create_default_executor(), "default")
                    added_defaults.append((self._executors, "default"))
                for alias, executor in self._executors.items():
                    executor.start(self, alias)
                    started.append(executor)
                if "default" not in self._jobstores:
                    self.add_jobstore(self._create_default_jobstore(), "default")
                    added_defaults.append((self._jobstores, "default"))
                for alias, store in self._jobstores.items():
                    store.start(self, alias)
                    started.append(store)
                self._check_pending_ids()
                for job, alias, replace_existing in self._pending_jobs:
                    self._real_add_job(job, alias, replace_existing)
                    if not replace_existing:
                        stored.append((job, alias))
            except BaseException:
                # A pending job conflicting with one already in a store: take back the
                # ones this start stored, so they are stored once when it is retried.
                for job, alias in stored:
                    try:
                        self._jobstores[alias].remove_job(job.id)
                    except Exception:
                        self._logger.exception("Could not take back job %s", job.id)
                self._undo_start(started, added_defaults)
                raise
            self._pending_jobs = []
            self.state = STATE_PAUSED if paused else STATE_RUNNING
        self._logger.info("Scheduler started")
        self._dispatch_event(SchedulerEvent(EVENT_SCHEDULER_STARTED))
        if not paused:
            self.wakeup()

    def _check_pending_ids(self) -> None:
        """Raise before any pending job is stored if two of them share an id in one store
        (without replace_existing): the start would otherwise store half of them."""
        seen: set[tuple[str, str]] = set()
        for job, alias, replace_existing in self._pending_jobs:
            if alias not in self._jobstores:
                raise KeyError(f"No such job store: {alias}")
            key = (alias, job.id)
            if key in seen and not replace_existing:
                raise ConflictingIdError(job.id)
            seen.add(key)

    def _undo_start(self, started: list[Any], added_defaults: list[tuple[dict, str]]) -> None:
        """Shut down what a failed start() had started; forget the defaults it created."""
        for component in reversed(started):
            try:
                if isinstance(component, BaseExecutor):
                    component.shutdown(wait=False)
                else:
                    component.shutdown()
            except Exception:
                self._logger.exception("Error shutting down %r after a failed start", component)
        for registry, alias in added_defaults:
            registry.pop(alias, None)
            self._history_stores.pop(alias, None)

    def shutdown(self, wait: bool = True) -> None:
        """Stop processing, shut down executors (waiting for runs if ``wait``) and stores.

        One executor or store whose shutdown raises is logged and does not keep the others
        (or the front end's loop) running.

        :raises SchedulerNotRunningError: if the scheduler is not running
        """
        if self.state == STATE_STOPPED:
            raise SchedulerNotRunningError
        self.state = STATE_STOPPED
        with self._executors_lock:
            executors = list(self._executors.values())
        for executor in executors:
            try:
                executor.shutdown(wait)
            except Exception:
                self._logger.exception("Error shutting down executor %r", executor)
        with self._jobstores_lock:
            for store in self._jobstores.values():
                try:
                    store.shutdown()
                except Exception:
                    self._logger.exception("Error shutting down job store %r", store)
        self._logger.info("Scheduler has been shut down")
        self._dispatch_event(SchedulerEvent(EVENT_SCHEDULER_SHUTDOWN))

    def pause(self) -> None:
        """Stop processing jobs (runs in progress continue) until :meth:`resume`."""
        if self.state == STATE_STOPPED:
            raise SchedulerNotRunningError
        if self.state == STATE_RUNNING:
            self.state = STATE_PAUSED
            self._logger.info("Paused scheduler job processing")
            self._dispatch_event(SchedulerEvent(EVENT_SCHEDULER_PAUSED))

    def resume(self) -> None:
        """Resume job processing after :meth:`pause` (or ``start(paused=True)``)."""
        if self.state == STATE_STOPPED:
            raise SchedulerNotRunningError
        if self.state == STATE_PAUSED:
            self.state = STATE_RUNNING
            self._logger.info("Resumed scheduler job processing")
            self._dispatch_event(SchedulerEvent(EVENT_SCHEDULER_RESUMED))
            self.wakeup()

    @property
    def running(self) -> bool:
        """True once started (running or paused), False when stopped."""
        return self.state != STATE_STOPPED

    @abstractmethod
    def wakeup(self) -> None:
        """Make the scheduler look for due jobs soon (a job was added or changed)."""

    # --- executors and stores -------------------------------------------------------------------

    def add_executor(self, executor: Any, alias: str = "default", **executor_opts: Any) -> None:
        """Add an executor instance, or one built from a plugin alias and ``executor_opts``.

        :raises ValueError: if ``alias`` is taken
        """
        with self._executors_lock:
            executor = self._new_component(
                "executor", "an executor", executor, BaseExecutor, executor_opts,
                self._executors, alias,
            )
            if self.state != STATE_STOPPED:
                executor.start(self, alias)  # first: an executor that fails is not added
            self._executors[alias] = executor
        self._dispatch_event(SchedulerEvent(EVENT_EXECUTOR_ADDED, alias))

    def _new_component(
        self,
        kind: str,
        described: str,
        value: Any,
        base: type,
        options: dict[str, Any],
        registry: dict[str, Any],
        alias: str,
    ) -> Any:
        """Validate an executor or store about to be added under ``alias``; build it from a
        plugin alias when given a string. Messages are APScheduler's, word for word."""
        if alias in registry:
            raise ValueError(f'This scheduler already has {described} by the alias of "{alias}"')
        if isinstance(value, str):
            return self._create_plugin_instance(kind, value, options)
        if not isinstance(value, base):
            raise TypeError(
                f"Expected {described} instance or a string, got {type(value).__name__} instead"
            )
        return value

    def remove_executor(self, alias: str, shutdown: bool = True) -> None:
        """Remove (and by default shut down) the executor ``alias``; KeyError if unknown."""
        with self._executors_lock:
            executor = self._lookup_executor(alias)
            del self._executors[alias]
        if shutdown:
            executor.shutdown()
        self._dispatch_event(SchedulerEvent(EVENT_EXECUTOR_REMOVED, alias))

    def add_jobstore(self, jobstore: Any, alias: str = "default", **jobstore_opts: Any) -> None:
        """Add a job store instance, or one built from a plugin alias and ``jobstore_opts``.

        :raises ValueError: if ``alias`` is taken
        """
        with self._jobstores_lock:
            jobstore = self._new_component(
                "jobstore", "a job store", jobstore, BaseJobStore, jobstore_opts,
                self._jobstores, alias,
            )
            if self.state != STATE_STOPPED:
                jobstore.start(self, alias)  # first: a store that fails is not added
            self._jobstores[alias] = jobstore
            if getattr(type(jobstore), "record_run", None) not in (None, BaseJobStore.record_run):
                self._history_stores[alias] = jobstore
        self._dispatch_event(SchedulerEvent(EVENT_JOBSTORE_ADDED, alias))
        if self.state != STATE_STOPPED:
            self.wakeup()

    def remove_jobstore(self, alias: str, shutdown: bool = True) -> None:
        """Remove (and by default shut down) the store ``alias`` with its jobs."""
        with self._jobstores_lock:
            jobstore = self._lookup_jobstore(alias)
            del self._jobstores[alias]
            self._history_stores.pop(alias, None)
        if shutdown:
            jobstore.shutdown()
        self._dispatch_event(SchedulerEvent(EVENT_JOBSTORE_REMOVED, alias))

    def _create_default_executor(self) -> BaseExecutor:
        from nbsched.executors.pool import ThreadPoolExecutor

        return ThreadPoolExecutor()

    def _create_default_jobstore(self) -> BaseJobStore:
        from nbsched.jobstores.memory import MemoryJobStore

        return MemoryJobStore()

    def _lookup_executor(self, alias: str) -> BaseExecutor:
        try:
            return self._executors[alias]
        except KeyError:
            raise KeyError(f"No such executor: {alias}") from None

    def _lookup_jobstore(self, alias: str) -> BaseJobStore:
        try:
            return self._jobstores[alias]
        except KeyError:
            raise KeyError(f"No such job store: {alias}") from None

    # --- events ---------------------------------------------------------------------------------

    def add_listener(self, callback: Callable[[Any], Any], mask: int = EVENT_ALL) -> None:
        """Call ``callback(event)`` for every event whose code is in ``mask``."""
        with self._listeners_lock:
            self._listeners = (*self._listener_entries, (callback, mask))

    def remove_listener(self, callback: Callable[[Any], Any]) -> None:
        """Remove a listener added with :meth:`add_listener` (no error if it was never added)."""
        with self._listeners_lock:
            self._listeners = [e for e in self._listener_entries if e[0] != callback]

    @property
    def _listeners(self) -> tuple[tuple[Callable[[Any], Any], int], ...]:
        return self._listener_entries

    @_listeners.setter
    def _listeners(self, entries: Any) -> None:
        # The union of the masks lets the core skip building events nobody listens to; it is
        # kept in step whenever the listener list changes, even by direct assignment.
        entries = tuple(entries)
        mask = 0
        for _, listener_mask in entries:
            mask |= listener_mask
        self._listener_entries = entries
        self._listener_mask = mask

    def _current_time(self) -> datetime:
        # Through this module's ``datetime`` name: programs (and APScheduler's tests) that
        # freeze time patch ``schedulers.base.datetime`` and expect the core to see it.
        return datetime.now(self.timezone)

    def _dispatch_event(self, event: Any) -> None:
        """Record run outcomes in the history and call the listeners whose mask matches."""
        code = event.code
        if code & HISTORY_EVENTS:
            self._history.record_event(event)
            if self._history_stores:
                store = self._history_stores.get(event.jobstore)
                if store is not None:
                    for record in records_from_event(event):
                        try:
                            store.record_run(record)
                        except Exception:
                            self._logger.exception("Error recording a run in %r", event.jobstore)
        if not code & self._listener_mask:
            return
        for callback, mask in self._listener_entries:
            if code & mask:
                try:
                    callback(event)
                except BaseException:
                    self._logger.exception("Error notifying listener")

    # --- jobs -----------------------------------------------------------------------------------

    def add_job(
        self,
        func: Callable[..., Any] | str,
        trigger: BaseTrigger | str | None = None,
        args: Any = None,
        kwargs: Any = None,
        id: str | None = None,
        name: str | None = None,
        misfire_grace_time: Any = undefined,
        coalesce: Any = undefined,
        max_instances: Any = undefined,
        next_run_time: Any = undefined,
        jobstore: str = "default",
        executor: str = "default",
        replace_existing: bool = False,
        **trigger_args: Any,
    ) -> Job:
        """Schedule ``func`` (a callable or ``"module:function"``) and return the Job.

        ``trigger`` is a trigger instance, or an alias (``"date"``, ``"interval"``, ``"cron"``,
        ...) built from ``trigger_args``; None means run once, now. Options left out take the
        scheduler's ``job_defaults``. ``next_run_time=None`` adds the job paused. Jobs added
        before ``start()`` are kept pending and stored when the scheduler starts.
        """
        trigger = self._create_trigger(trigger, trigger_args)
        if self.state != STATE_STOPPED:
            # Started: fill in the defaults now instead of probing for unset options later.
            defaults = self._job_defaults
            if misfire_grace_time is undefined:
                misfire_grace_time = defaults["misfire_grace_time"]
            if coalesce is undefined:
                coalesce = defaults["coalesce"]
            if max_instances is undefined:
                max_instances = defaults["max_instances"]
            if next_run_time is undefined:
                next_run_time = trigger.get_next_fire_time(None, datetime.now(self.timezone))
        job = Job._new(self, func, trigger, args, kwargs, id, name, executor,
                       misfire_grace_time, coalesce, max_instances, next_run_time)
        with self._jobstores_lock:
            if self.state == STATE_STOPPED:
                self._pending_jobs.append((job, jobstore, replace_existing))
                self._logger.info(
                    "Adding job tentatively -- it will be properly scheduled when the "
                    "scheduler starts"
                )
                return job
            self._real_add_job(job, jobstore, replace_existing)
        return job

    def scheduled_job(
        self,
        trigger: BaseTrigger | str | None,
        args: Any = None,
        kwargs: Any = None,
        id: str | None = None,
        name: str | None = None,
        misfire_grace_time: Any = undefined,
        coalesce: Any = undefined,
        max_instances: Any = undefined,
        next_run_time: Any = undefined,
        jobstore: str = "default",
        executor: str = "default",
        **trigger_args: Any,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator form of :meth:`add_job` (with ``replace_existing=True``); returns ``func``."""

        def inner(func: Callable[..., Any]) -> Callable[..., Any]:
            self.add_job(func, trigger, args, kwargs, id, name, misfire_grace_time, coalesce,
                         max_instances, next_run_time, jobstore, executor, True,
                         **trigger_args)
            return func

        return inner

    def _create_trigger(self, trigger: Any, trigger_args: dict[str, Any]) -> BaseTrigger:
        if type(trigger) in _trigger_types or (
            type(trigger) is not str and isinstance(trigger, BaseTrigger)
        ):
            if trigger_args:
                raise TypeError(
                    "trigger arguments ("
                    + ", ".join(sorted(trigger_args))
                    + ") cannot be combined with a trigger instance"
                )
            return trigger
        if trigger is None:
            trigger = "date"
        elif not isinstance(trigger, str):
            raise TypeError(
                f"Expected a trigger instance or string, got {type(trigger).__name__} instead"
            )
        cls = self._trigger_classes.get(trigger)
        if cls is None:
            cls = load_plugin("nbsched.triggers", trigger)
            if not (isinstance(cls, type) and issubclass(cls, BaseTrigger)):
                raise TypeError(f"The trigger entry point {trigger!r} does not point to a trigger")
            self._trigger_classes[trigger] = cls
        if "timezone" not in trigger_args and _accepts_timezone(cls):
            trigger_args["timezone"] = self.timezone
        return cls(**trigger_args)

    def _real_add_job(self, job: Job, jobstore_alias: str, replace_existing: bool) -> None:
        """Put ``job`` into a started store (caller holds the store lock)."""
        try:
            job.misfire_grace_time  # noqa: B018 - probing for unset options
            job.coalesce  # noqa: B018
            job.max_instances  # noqa: B018
        except AttributeError:
            for key, value in self._job_defaults.items():
                if not hasattr(job, key):
                    setattr(job, key, value)
        try:
            job.next_run_time  # noqa: B018
        except AttributeError:
            job.next_run_time = job.trigger.get_next_fire_time(None, datetime.now(self.timezone))

        store = self._jobstores.get(jobstore_alias)
        if store is None:
            raise KeyError(f"No such job store: {jobstore_alias}")
        try:
            store.add_job(job)
        except ConflictingIdError:
            if not replace_existing:
                raise
            store.update_job(job)
        job._jobstore_alias = jobstore_alias

        if self._listener_mask & EVENT_JOB_ADDED:
            self._dispatch_event(JobEvent(EVENT_JOB_ADDED, job.id, jobstore_alias))
        self._logger.info('Added job "%s" to job store "%s"', job.name, jobstore_alias)
        if self.state == STATE_RUNNING:
            self.wakeup()

    def modify_job(self, job_id: str, jobstore: str | None = None, **changes: Any) -> Job:
        """Change attributes of a job (any of ``Job``'s public attributes) and save it.

        :raises JobLookupError: if there is no such job
        """
        with self._jobstores_lock:
            job, alias = self._lookup_job(job_id, jobstore)
            job._modify(**changes)
            if alias:
                self._lookup_jobstore(alias).update_job(job)
                if "next_run_time" in changes or "trigger" in changes:
                    # A new schedule replaces a run already read ahead for the old one.
                    self._cancel_read_ahead(job.id, alias)
        self._dispatch_event(JobEvent(EVENT_JOB_MODIFIED, job_id, alias))
        if self.state == STATE_RUNNING:
            self.wakeup()
        return job

    def reschedule_job(
        self, job_id: str, jobstore: str | None = None, trigger: Any = None, **trigger_args: Any
    ) -> Job:
        """Give a job a new trigger and the next run time that trigger computes from now."""
        trigger = self._create_trigger(trigger, trigger_args)
        next_run_time = trigger.get_next_fire_time(None, datetime.now(self.timezone))
        return self.modify_job(job_id, jobstore, trigger=trigger, next_run_time=next_run_time)

    def pause_job(self, job_id: str, jobstore: str | None = None) -> Job:
        """Keep a job but stop running it (its next run time becomes None)."""
        return self.modify_job(job_id, jobstore, next_run_time=None)

    def resume_job(self, job_id: str, jobstore: str | None = None) -> Job | None:
        """Resume a paused job from now; remove it (returning None) if it has no run times left."""
        with self._jobstores_lock:
            job, alias = self._lookup_job(job_id, jobstore)
            next_run_time = job.trigger.get_next_fire_time(None, datetime.now(self.timezone))
            if next_run_time:
                return self.modify_job(job_id, alias, next_run_time=next_run_time)
            self.remove_job(job.id, alias)
            return None

    def get_jobs(self, jobstore: str | None = None, pending: bool | None = None) -> list[Job]:
        """Jobs of one store or all (pending ones if the scheduler has not started)."""
        if pending is not None:
            warnings.warn(
                'The "pending" option is deprecated -- get_jobs() always returns scheduled jobs '
                "if the scheduler has been started and pending jobs otherwise",
                DeprecationWarning,
                stacklevel=2,
            )
        with self._jobstores_lock:
            if self.state == STATE_STOPPED:
                return [job for job, alias, _ in self._pending_jobs
                        if jobstore is None or alias == jobstore]
            jobs: list[Job] = []
            for alias, store in self._jobstores.items():
                if jobstore is None or alias == jobstore:
                    jobs.extend(store.get_all_jobs())
            return jobs

    def get_job(self, job_id: str, jobstore: str | None = None) -> Job | None:
        """The job with ``job_id`` (optionally only in store ``jobstore``), or None."""
        with self._jobstores_lock:
            try:
                return self._lookup_job(job_id, jobstore)[0]
            except JobLookupError:
                return None

    def _lookup_job(self, job_id: str, jobstore_alias: str | None) -> tuple[Job, str | None]:
        if self.state == STATE_STOPPED:
            for job, alias, _ in self._pending_jobs:
                if job.id == job_id and jobstore_alias in (None, alias):
                    return job, None
        else:
            for alias, store in self._jobstores.items():
                if jobstore_alias in (None, alias):
                    job = store.lookup_job(job_id)
                    if job is not None:
                        return job, alias
        raise JobLookupError(job_id)

    def remove_job(self, job_id: str, jobstore: str | None = None) -> None:
        """Delete a job. :raises JobLookupError: if there is no such job."""
        removed_from: str | None = None
        with self._jobstores_lock:
            if self.state == STATE_STOPPED:
                for index, (job, alias, _) in enumerate(self._pending_jobs):
                    if job.id == job_id and jobstore in (None, alias):
                        del self._pending_jobs[index]
                        removed_from = alias
                        break
            else:
                for alias, store in self._jobstores.items():
                    if jobstore in (None, alias):
                        try:
                            store.remove_job(job_id)
                        except JobLookupError:
                            continue
                        removed_from = alias
                        break
                # A run read ahead (persisted, waiting for its exact fire time) is cancelled
                # too; a finished one-shot job is already gone from its store then.
                cancelled = self._cancel_read_ahead(job_id, jobstore)
                if removed_from is None:
                    removed_from = cancelled
        if removed_from is None:
            raise JobLookupError(job_id)
        if self._listener_mask & EVENT_JOB_REMOVED:
            self._dispatch_event(JobEvent(EVENT_JOB_REMOVED, job_id, removed_from))
        self._logger.info("Removed job %s", job_id)

    def remove_all_jobs(self, jobstore: str | None = None) -> None:
        """Delete every job (of one store, or of all)."""
        with self._jobstores_lock:
            if self.state == STATE_STOPPED:
                self._pending_jobs = [entry for entry in self._pending_jobs
                                      if jobstore and entry[1] != jobstore]
            else:
                for alias, store in self._jobstores.items():
                    if jobstore in (None, alias):
                        store.remove_all_jobs()
                for job_id, alias in self._read_ahead_keys():
                    if jobstore in (None, alias):
                        self._cancel_read_ahead(job_id, alias)
        self._dispatch_event(SchedulerEvent(EVENT_ALL_JOBS_REMOVED, jobstore))

    # --- listing, export, history ----------------------------------------------------------------

    def _repr_html_(self) -> str:
        """The notebook's rendering (Jupyter calls this); display code loads only when used."""
        from nbsched.notebook.display import scheduler_html

        return scheduler_html(self)

    def __rich__(self) -> object:
        """The rich library's rendering (``rich.print``, rich consoles)."""
        from nbsched.notebook.display import scheduler_rich

        return scheduler_rich(self)

    def print_jobs(self, jobstore: str | None = None, out: IO[str] | None = None) -> None:
        """Show the jobs: a rich table on the terminal, or APScheduler's plain text into ``out``."""
        with self._jobstores_lock:
            if self.state == STATE_STOPPED:
                sections = [("Pending jobs", [job for job, alias, _ in self._pending_jobs
                                              if jobstore in (None, alias)], True)]
            else:
                sections = [(f"Jobstore {alias}", store.get_all_jobs(), False)
                             for alias, store in sorted(self._jobstores.items())
                             if jobstore in (None, alias)]
        if out is not None:
            out.write(_plain_listing(sections))
        else:
            _print_rich_listing(sections)

    def export_jobs(self, outfile: Any, jobstore: str | None = None) -> None:
        """Write the jobs (of one store or all) as JSON to a text file object or a path."""
        if self.state == STATE_STOPPED:
            raise RuntimeError("the scheduler must have been started for job export to work")
        with self._jobstores_lock:
            jobs = [job for alias, store in self._jobstores.items()
                    if jobstore in (None, alias) for job in store.get_all_jobs()]
        with ExitStack() as stack:
            if not hasattr(outfile, "write"):
                outfile = stack.enter_context(open(outfile, "w", encoding="utf-8"))
            _dump_jobs(jobs, outfile)

    def import_jobs(self, infile: Any, jobstore: str = "default") -> None:
        """Add jobs exported by :meth:`export_jobs` (or by APScheduler 3.11) to ``jobstore``.

        :raises ConflictingIdError: if a job id already exists in the store
        """
        with self._jobstores_lock:
            store = self._lookup_jobstore(jobstore)
        with ExitStack() as stack:
            if not hasattr(infile, "read"):
                infile = stack.enter_context(open(infile, encoding="utf-8"))
            states = _load_job_states(infile)
        with self._jobstores_lock:
            for state in states:
                job = Job.__new__(Job)
                job.__setstate__(state)
                job._scheduler = self
                job._jobstore_alias = jobstore
                store.add_job(job)
        if self.state == STATE_RUNNING:
            self.wakeup()

    def get_run_history(self, job_id: str | None = None, limit: int = 100) -> list[RunRecord]:
        """Recent runs (executed, failed, missed, refused), newest first.

        Stores that keep their own history answer for their jobs; the scheduler's bounded
        in-memory log answers for the rest.
        """
        if limit < 0:
            raise ValueError(f"limit: {limit!r}: must not be negative")
        with self._jobstores_lock:
            history_stores = dict(self._history_stores)
        from_stores: list[RunRecord] = []
        covered = set()
        for alias, store in history_stores.items():
            records = store.get_run_history(job_id, limit)
            if records is not None:
                covered.add(alias)
                from_stores.extend(records)
        records = self._history.get(job_id, limit, exclude_jobstores=covered)
        if from_stores:
            records = sorted(
                [*records, *from_stores],
                key=lambda r: (r.end_time or r.start_time or r.scheduled_time).timestamp(),
                reverse=True,
            )[:limit]
        return records

    # --- internals used by executors and front ends ---------------------------------------

    def _create_lock(self) -> Any:
        """A reentrant lock (front ends for other concurrency models may override)."""
        return threading.RLock()



# --- print_jobs -------------------------------------------------------------------------------


def _plain_listing(sections: list[tuple[str, list[Job], bool]]) -> str:
    """APScheduler's print_jobs text: a header per store, one indented line per job."""
    lines: list[str] = []
    for title, jobs, pending in sections:
        lines.append(f"{title}:")
        if jobs:
            lines.extend(f"    {job}" for job in jobs)
        else:
            lines.append("    No pending jobs" if pending else "    No scheduled jobs")
    return "\n".join(lines) + "\n"


def _print_rich_listing(sections: list[tuple[str, list[Job], bool]]) -> None:
    from rich.console import Console
    from rich.table import Table

    from nbsched.timezones import datetime_repr

    console = Console()
    for title, jobs, pending in sections:
        table = Table(title=title, title_justify="left")
        for column in ("id", "name", "trigger", "next run", "executor"):
            table.add_column(column)
        for job in jobs:
            try:
                next_run = job.next_run_time
            except AttributeError:
                status = "pending"
            else:
                status = datetime_repr(next_run) if next_run else "paused"
            table.add_row(job.id, job.name, str(job.trigger), status, job.executor)
        if not jobs:
            table.add_row("", "No pending jobs" if pending else "No scheduled jobs", "", "", "")
        console.print(table)


# --- export_jobs / import_jobs ------------------------------------------------------------------
# The document has APScheduler 3.11's layout ({"version": 1, "scheduler_version", "jobs": [...]},
# objects as {"__apscheduler_class__": ref, "__apscheduler_state__": state}) so files move
# between the two. Dates and zones are written as plain JSON rather than pickles.

_DATETIME_KEY = "__nbsched_datetime__"
_TIMEZONE_KEY = "__nbsched_timezone__"


def _json_default(obj: Any) -> Any:
    import pickle
    from base64 import b64encode
    from datetime import date, timedelta, tzinfo

    from nbsched.job import obj_to_ref
    from nbsched.timezones import timezone_name

    if isinstance(obj, datetime):
        zone = timezone_name(obj.tzinfo) if obj.tzinfo is not None else None
        return {_DATETIME_KEY: obj.replace(tzinfo=None).isoformat(), "zone": zone,
                "offset": obj.utcoffset().total_seconds() if obj.tzinfo else None}
    if isinstance(obj, tzinfo):
        name = timezone_name(obj)
        if getattr(obj, "key", None) or name == "UTC":
            return {_TIMEZONE_KEY: name}
    if isinstance(obj, (tuple, set, frozenset)):
        return list(obj)
    if not isinstance(obj, (date, timedelta)) and hasattr(obj, "__setstate__"):
        state = obj.__getstate__()
        if isinstance(state, Mapping):
            return {"__apscheduler_class__": obj_to_ref(type(obj)),
                    "__apscheduler_state__": state}
    return {"__apscheduler_pickle__": b64encode(pickle.dumps(obj, pickle.HIGHEST_PROTOCOL))
            .decode("ascii")}


def _json_object_hook(dct: dict[str, Any]) -> Any:
    import pickle
    from base64 import b64decode
    from datetime import timedelta, timezone

    if _DATETIME_KEY in dct:
        value = datetime.fromisoformat(dct[_DATETIME_KEY])
        zone = dct.get("zone")
        if zone is None:
            return value
        try:
            return value.replace(tzinfo=as_timezone(zone))
        except ValueError:
            return value.replace(tzinfo=timezone(timedelta(seconds=dct.get("offset") or 0)))
    if _TIMEZONE_KEY in dct:
        return as_timezone(dct[_TIMEZONE_KEY])
    pickled = dct.get("__apscheduler_pickle__")
    if pickled:
        # Only present in files written by APScheduler itself (or for exotic arguments);
        # import only files you trust, as with APScheduler.
        return pickle.loads(b64decode(pickled))
    class_ref = dct.get("__apscheduler_class__")
    if class_ref and "__apscheduler_state__" in dct:
        if class_ref.startswith("apscheduler."):
            return _from_apscheduler_state(class_ref, dct["__apscheduler_state__"])
        cls = ref_to_obj(class_ref)
        obj = object.__new__(cls)
        obj.__setstate__(dct["__apscheduler_state__"])
        return obj
    return dct


def _from_apscheduler_state(class_ref: str, state: Mapping[str, Any]) -> Any:
    """Rebuild the nbsched twin of an APScheduler 3 trigger from its pickled-state dict.

    The two libraries' trigger states differ in version and layout, so the state is read
    field by field and the nbsched trigger is built through its constructor (or its own state
    where the fields coincide).
    """
    from nbsched.triggers.calendarinterval import CalendarIntervalTrigger
    from nbsched.triggers.combining import AndTrigger, OrTrigger
    from nbsched.triggers.cron import CronTrigger
    from nbsched.triggers.date import DateTrigger
    from nbsched.triggers.interval import IntervalTrigger

    name = class_ref.rpartition(":")[2]
    jitter = state.get("jitter")
    if name == "DateTrigger":
        return DateTrigger(run_date=state["run_date"])
    if name == "IntervalTrigger":
        trigger = IntervalTrigger.__new__(IntervalTrigger)
        trigger.__setstate__({
            "version": 1, "timezone": as_timezone(state["timezone"]),
            "start_date": state["start_date"], "end_date": state["end_date"],
            "interval": state["interval"], "jitter": jitter,
        })
        return trigger
    if name == "CronTrigger":
        expressions = {field.name: str(field) for field in state["fields"]
                       if not getattr(field, "is_default", False)}
        return CronTrigger(**expressions, start_date=state["start_date"],
                           end_date=state["end_date"], timezone=state["timezone"],
                           jitter=jitter)
    if name == "CalendarIntervalTrigger":
        years, months, weeks, days = state["interval"]
        hour, minute, second = state["time"]
        return CalendarIntervalTrigger(
            years=years, months=months, weeks=weeks, days=days, hour=hour, minute=minute,
            second=second, start_date=state["start_date"], end_date=state["end_date"],
            timezone=state["timezone"], jitter=jitter,
        )
    if name in ("AndTrigger", "OrTrigger"):
        members = [_from_apscheduler_state(ref, member) for ref, member in state["triggers"]]
        return (AndTrigger if name == "AndTrigger" else OrTrigger)(members, jitter=jitter)
    raise ValueError(f"import_jobs: no nbsched counterpart for APScheduler class {class_ref}")


def _dump_jobs(jobs: list[Job], outfile: IO[str]) -> None:
    import json

    from nbsched import __version__

    states = []
    for job in jobs:
        if not job.func_ref:
            raise ValueError(
                f"Job {job.id!r} cannot be exported: its callable {job.func!r} has no textual "
                "reference (module:function); define it at module level"
            )
        state = job.__getstate__()
        if not isinstance(state["func"], str):
            state["func"] = job.func_ref
        states.append(state)
    json.dump({"version": 1, "scheduler_version": __version__, "jobs": states}, outfile,
              default=_json_default)


def _load_job_states(infile: IO[str]) -> list[dict[str, Any]]:
    import json

    data = json.load(infile, object_hook=_json_object_hook)
    if not isinstance(data, dict):
        raise ValueError("import_jobs: the document is not a JSON object with a 'jobs' list")
    version = data.get("version")
    if version != 1:
        raise ValueError(f"import_jobs: unrecognized export version: {version!r}")
    return list(data["jobs"])
