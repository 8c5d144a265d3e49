"""Job: what to call, when (a trigger) and how (executor and run policies).

A job is plain data plus convenience methods that delegate to its scheduler. Options left
out when a job is added before the scheduler starts stay *unset* (the slot is empty) until the
scheduler fills them from its ``job_defaults`` — that is how APScheduler 3 tells "not given"
from an explicit value, and ``str(job)`` shows such a job as ``pending``.

Adding a job is the hottest API call (a notebook or service may add 100k jobs), so the
expensive parts of validation — looking up the callable's reference and name, checking the
arguments against its signature — are cached per callable and per argument shape.
"""

from __future__ import annotations

import inspect
import itertools
import math
import os
import threading
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from nbsched.serialization import callable_name, is_by_reference, obj_to_ref, ref_to_obj
from nbsched.timezones import datetime_repr, to_datetime
from nbsched.triggers.base import BaseTrigger

__all__ = ["Job", "callable_name", "check_callable_args", "obj_to_ref", "ref_to_obj"]

_CACHE_LIMIT = 4096


# --- callable references ------------------------------------------------------------------
# The rules for naming callables live in nbsched.serialization; the job only caches them.


def _is_by_reference(func: Any, func_ref: str | None) -> bool:
    return func_ref is not None and is_by_reference(func)


# --- argument checking, cached --------------------------------------------------------------

_callable_info: dict[Any, tuple[str | None, str]] = {}
_signature_checks: dict[tuple, str | None] = {}
_cache_lock = threading.Lock()


def _describe_callable(func: Any) -> tuple[str | None, str]:
    """``(func_ref or None, name)`` for ``func``, cached for hashable callables."""
    try:
        return _callable_info[func]
    except KeyError:
        pass
    except TypeError:  # unhashable callable object
        return _compute_callable_info(func)
    info = _compute_callable_info(func)
    with _cache_lock:
        if len(_callable_info) >= _CACHE_LIMIT:
            _callable_info.clear()
        _callable_info[func] = info
    return info


def _compute_callable_info(func: Any) -> tuple[str | None, str]:
    try:
        ref = obj_to_ref(func)
    except (ValueError, TypeError):
        ref = None
    return ref, callable_name(func)


def _signature_problem(func: Any, args: tuple, kwargs: Mapping[str, Any]) -> str | None:
    try:
        sig = inspect.signature(func, follow_wrapped=False)
    except (ValueError, TypeError):
        return None  # some builtins have no signature: nothing to check
    try:
        sig.bind(*args, **kwargs)
    except TypeError as exc:
        return str(exc)
    return None


def check_callable_args(func: Any, args: tuple, kwargs: Mapping[str, Any]) -> None:
    """Raise ValueError if ``func`` cannot be called with ``args``/``kwargs``.

    The verdict depends only on the callable and the *shape* of the call (how many
    positional arguments, which keyword names), so it is cached on that key.
    """
    try:
        key = (func, len(args), tuple(kwargs))
        problem = _signature_checks[key]
    except KeyError:
        problem = _signature_problem(func, args, kwargs)
        with _cache_lock:
            if len(_signature_checks) >= _CACHE_LIMIT:
                _signature_checks.clear()
            _signature_checks[key] = problem
    except TypeError:  # unhashable callable or keyword names
        problem = _signature_problem(func, args, kwargs)
    if problem is not None:
        raise ValueError(f"args/kwargs do not fit {callable_name(func)}(): {problem}")


# --- ids ----------------------------------------------------------------------------------

_id_prefix = os.urandom(8).hex()
_id_counter = itertools.count(int.from_bytes(os.urandom(4), "big"))


def _new_id() -> str:
    """A 32-hex-digit id, unique per process run: random prefix + counter (cheaper than uuid4)."""
    return "%s%016x" % (_id_prefix, next(_id_counter))  # noqa: UP031 - fastest here


_NOT_GIVEN: Any = object()
_trigger_types: set[type] = set()  # classes already checked to be triggers (skips ABC checks)
_JOB_FIELDS = (
    "id", "func", "args", "kwargs", "name", "trigger", "executor", "misfire_grace_time",
    "coalesce", "max_instances", "next_run_time",
)


#: The longest misfire grace time a timedelta holds (999,999,999 days), in seconds.
_MAX_GRACE_SECONDS = timedelta.max // timedelta(seconds=1)


def _check_misfire_grace_time(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        # NaN compares false with everything (no run would ever be late); inf overflows
        # the executor's timedelta.
        raise ValueError(
            f"misfire_grace_time: {value!r}: must be a finite number of seconds "
            "(None means any lateness is fine)"
        )
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise TypeError(
            f"misfire_grace_time: {value!r}: must be None or a positive number of seconds"
        )
    if value > _MAX_GRACE_SECONDS:
        raise ValueError(
            f"misfire_grace_time: {value!r}: at most {_MAX_GRACE_SECONDS:,} seconds "
            "(None means any lateness is fine)"
        )
    return value


def _check_max_instances(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise TypeError(f"max_instances: {value!r}: must be a positive integer")
    return value


def _check_coalesce(value: Any) -> bool:
    if isinstance(value, str):
        # bool("false") is True: refuse rather than silently invert the user's intent
        raise TypeError(f"coalesce: {value!r}: must be a bool, not a string")
    return bool(value)


class Job:
    """A scheduled call. Create jobs through ``scheduler.add_job``, not directly.

    :ivar id: unique identifier within its store
    :ivar name: description (defaults to the callable's name)
    :ivar func: the callable
    :ivar func_ref: ``"module:qualname"`` of the callable, or None if it has none
    :ivar args: positional arguments (tuple)
    :ivar kwargs: keyword arguments (dict)
    :ivar trigger: decides the run times
    :ivar executor: alias of the executor that runs it
    :ivar misfire_grace_time: seconds a run may be late and still run (None: any lateness)
    :ivar coalesce: run once instead of several times when several run times are due
    :ivar max_instances: how many runs of this job may be active at once
    :ivar next_run_time: the next run time (None while paused)
    """

    __slots__ = (
        "__weakref__",
        "_jobstore_alias",
        "_scheduler",
        "args",
        "coalesce",
        "executor",
        "func",
        "func_ref",
        "id",
        "kwargs",
        "max_instances",
        "misfire_grace_time",
        "name",
        "next_run_time",
        "trigger",
    )

    def __init__(self, scheduler: Any, id: str | None = None, **kwargs: Any) -> None:
        self._scheduler = scheduler
        self._jobstore_alias: str | None = None
        self._modify(id=id or _new_id(), **kwargs)

    @classmethod
    def _new(
        cls,
        scheduler: Any,
        func: Any,
        trigger: BaseTrigger,
        args: Any,
        kwargs: Any,
        id: str | None,
        name: str | None,
        executor: str,
        misfire_grace_time: Any = _NOT_GIVEN,
        coalesce: Any = _NOT_GIVEN,
        max_instances: Any = _NOT_GIVEN,
        next_run_time: Any = _NOT_GIVEN,
    ) -> Job:
        """The validated fast path used by ``add_job`` (same checks as :meth:`_modify`)."""
        job = cls.__new__(cls)
        job._scheduler = scheduler
        job._jobstore_alias = None
        if id is None:
            job.id = _new_id()
        elif type(id) is str and id:
            job.id = id
        else:
            Job._check_id(id)
            job.id = id
        if kwargs is None and (args is None or type(args) is tuple) and type(func) is not str:
            # The common shape, inlined: a callable with positional arguments or none.
            if args is None:
                args = ()
            try:
                func_ref, func_name = _callable_info[func]
            except (KeyError, TypeError):
                if not callable(func):
                    raise TypeError(
                        f"func: {func!r}: must be a callable or a 'module:function' string"
                    ) from None
                func_ref, func_name = _describe_callable(func)
            try:
                problem = _signature_checks[(func, len(args), ())]
            except (KeyError, TypeError):
                check_callable_args(func, args, {})
            else:
                if problem is not None:
                    check_callable_args(func, args, {})
            job.func = func
            job.func_ref = func_ref
            job.args = args
            job.kwargs = {}
            if name is None:
                job.name = func_name
            elif type(name) is str and name:
                job.name = name
            else:
                raise TypeError(f"name: {name!r}: must be a non-empty string")
        else:
            job._set_call(func, args, kwargs, name, fresh=True)
        if type(trigger) not in _trigger_types:
            if not isinstance(trigger, BaseTrigger):
                raise TypeError(
                    f"trigger: expected a trigger instance, got {type(trigger).__name__} instead"
                )
            _trigger_types.add(type(trigger))
        job.trigger = trigger
        if type(executor) is not str:
            raise TypeError(f"executor: {executor!r}: must be a string (an executor alias)")
        job.executor = executor
        if misfire_grace_time is not _NOT_GIVEN:
            if not (
                misfire_grace_time is None
                or (
                    type(misfire_grace_time) is int
                    and 0 < misfire_grace_time <= _MAX_GRACE_SECONDS
                )
            ):
                misfire_grace_time = _check_misfire_grace_time(misfire_grace_time)
            job.misfire_grace_time = misfire_grace_time
        if coalesce is not _NOT_GIVEN:
            job.coalesce = coalesce if coalesce is True or coalesce is False else (
                _check_coalesce(coalesce)
            )
        if max_instances is not _NOT_GIVEN:
            if not (type(max_instances) is int and max_instances > 0):
                max_instances = _check_max_instances(max_instances)
            job.max_instances = max_instances
        if next_run_time is not _NOT_GIVEN:
            if next_run_time is None or (
                type(next_run_time) is datetime and next_run_time.tzinfo is not None
            ):
                job.next_run_time = next_run_time
            else:
                job.next_run_time = to_datetime(
                    next_run_time, scheduler.timezone, "next_run_time"
                )
        return job

    # --- delegating API -----------------------------------------------------------------------

    def modify(self, **changes: Any) -> Job:
        """Change this job's attributes and save it in its store (see ``modify_job``)."""
        self._scheduler.modify_job(self.id, self._jobstore_alias, **changes)
        return self

    def reschedule(self, trigger: Any, **trigger_args: Any) -> Job:
        """Give this job a new trigger (an instance or an alias plus its arguments)."""
        self._scheduler.reschedule_job(self.id, self._jobstore_alias, trigger, **trigger_args)
        return self

    def pause(self) -> Job:
        """Stop running this job until :meth:`resume` is called."""
        self._scheduler.pause_job(self.id, self._jobstore_alias)
        return self

    def resume(self) -> Job:
        """Resume a paused job (or remove it if its trigger has no more run times)."""
        self._scheduler.resume_job(self.id, self._jobstore_alias)
        return self

    def remove(self) -> None:
        """Unschedule this job and delete it from its store."""
        self._scheduler.remove_job(self.id, self._jobstore_alias)

    @property
    def pending(self) -> bool:
        """True while the job waits for the scheduler to start and put it in a store."""
        return self._jobstore_alias is None

    # --- validation ---------------------------------------------------------------------------

    @staticmethod
    def _check_id(value: Any) -> None:
        if not isinstance(value, str):
            raise TypeError(f"id: {value!r}: must be a non-empty string")
        if not value:
            raise ValueError("id: '': must be a non-empty string")

    def _set_call(
        self, func: Any, args: Any, kwargs: Any, name: Any, fresh: bool = False
    ) -> None:
        """Validate and set func/func_ref/args/kwargs (and the default name)."""
        if isinstance(func, str):
            func_ref = func
            func = ref_to_obj(func)
        elif callable(func):
            func_ref = None
        else:
            raise TypeError(f"func: {func!r}: must be a callable or a 'module:function' string")
        info_ref, func_name = _describe_callable(func)
        if func_ref is None:
            func_ref = info_ref
        if type(args) is not tuple:
            if args is None:
                args = ()
            elif isinstance(args, (str, bytes)) or not isinstance(args, Iterable):
                raise TypeError(f"args: {args!r}: must be a non-string iterable")
            else:
                args = tuple(args)
        if kwargs is None:
            kwargs = {}
        elif isinstance(kwargs, Mapping) and not isinstance(kwargs, str):
            kwargs = dict(kwargs)  # a copy: later changes by the caller must not leak in
        else:
            raise TypeError(f"kwargs: {kwargs!r}: must be a dict-like object")
        check_callable_args(func, args, kwargs)
        self.func = func
        self.func_ref = func_ref
        self.args = args
        self.kwargs = kwargs
        if name is not None:
            if not isinstance(name, str) or not name:
                raise TypeError(f"name: {name!r}: must be a non-empty string")
            self.name = name
        elif fresh or not hasattr(self, "name"):
            self.name = func_name

    def _modify(self, **changes: Any) -> None:
        """Validate every change first, then apply them all (or none)."""
        unknown = set(changes) - set(_JOB_FIELDS)
        if unknown:
            raise AttributeError(
                "The following are not modifiable attributes of Job: " + ", ".join(sorted(unknown))
            )
        # Work on a scratch copy so a failing check leaves the job untouched.
        scratch = Job.__new__(Job)
        for slot in Job.__slots__[1:]:
            if hasattr(self, slot):
                object.__setattr__(scratch, slot, getattr(self, slot))

        if "id" in changes:
            value = changes["id"]
            Job._check_id(value)
            if hasattr(self, "id") and value != self.id:
                raise ValueError("id: the job ID may not be changed")
            scratch.id = value
        if "func" in changes or "args" in changes or "kwargs" in changes:
            scratch._set_call(
                changes.get("func", getattr(self, "func", None)),
                changes.get("args", getattr(self, "args", ())),
                changes.get("kwargs", getattr(self, "kwargs", {})),
                changes.get("name"),
            )
        elif "name" in changes:
            name = changes["name"]
            if not isinstance(name, str) or not name:
                raise TypeError(f"name: {name!r}: must be a non-empty string")
            scratch.name = name
        if "misfire_grace_time" in changes:
            scratch.misfire_grace_time = _check_misfire_grace_time(changes["misfire_grace_time"])
        if "coalesce" in changes:
            scratch.coalesce = _check_coalesce(changes["coalesce"])
        if "max_instances" in changes:
            scratch.max_instances = _check_max_instances(changes["max_instances"])
        if "trigger" in changes:
            trigger = changes["trigger"]
            if not isinstance(trigger, BaseTrigger):
                raise TypeError(
                    f"trigger: expected a trigger instance, got {type(trigger).__name__} instead"
                )
            scratch.trigger = trigger
        if "executor" in changes:
            value = changes["executor"]
            if not isinstance(value, str):
                raise TypeError(f"executor: {value!r}: must be a string (an executor alias)")
            scratch.executor = value
        if "next_run_time" in changes:
            tz = getattr(self._scheduler, "timezone", None)
            scratch.next_run_time = to_datetime(changes["next_run_time"], tz, "next_run_time")

        for slot in Job.__slots__[1:]:
            if slot in ("_scheduler", "_jobstore_alias"):
                continue
            if hasattr(scratch, slot):
                object.__setattr__(self, slot, getattr(scratch, slot))

    def _get_run_times(self, now: datetime) -> list[datetime]:
        """Every run time from ``next_run_time`` through ``now`` (inclusive), oldest first.

        APScheduler's private helper, kept for code that calls it. Times are compared as
        instants, so a wall-clock time repeated when the clocks go back (``fold``) is
        ordered correctly. The scheduler core does not use this: it catches up through
        :meth:`BaseTrigger.fire_times_through`, which is bounded and O(1) for intervals.
        """
        run_times: list[datetime] = []
        limit = now.timestamp()
        run_time = self.next_run_time
        while run_time is not None and run_time.timestamp() <= limit:
            run_times.append(run_time)
            run_time = self.trigger.get_next_fire_time(run_time, now)
        return run_times

    # --- persistence ----------------------------------------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        """The job as a plain dict; ``func`` is a textual reference when one can be imported."""
        func: Any = self.func
        args = self.args
        if _is_by_reference(func, self.func_ref):
            # (A method bound to an instance is never by reference: it is stored by value.)
            func = self.func_ref
        return {
            "version": 1,
            "id": self.id,
            "func": func,
            "trigger": self.trigger,
            "executor": self.executor,
            "args": args,
            "kwargs": self.kwargs,
            "name": self.name,
            "misfire_grace_time": self.misfire_grace_time,
            "coalesce": self.coalesce,
            "max_instances": self.max_instances,
            "next_run_time": self.next_run_time,
        }

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        version = state.get("version", 1)
        if version > 1:
            raise ValueError(
                f"Job has version {version}, but only version 1 can be handled by this nbsched"
            )
        func = state["func"]
        if isinstance(func, str):
            self.func_ref = func
            self.func = ref_to_obj(func)
        else:
            # A callable in the state was stored by value, so it has no usable reference; a
            # fresh object per decode would only fill the per-callable cache with dead entries.
            self.func = func
            self.func_ref = None
        self.id = state["id"]
        self.trigger = state["trigger"]
        self.executor = state["executor"]
        # As given (APScheduler does the same): a pickled record holds a tuple and a dict,
        # a JSON export (import_jobs) a list; both call the same way.
        self.args = state["args"]
        self.kwargs = state["kwargs"]
        self.name = state["name"]
        self.misfire_grace_time = state["misfire_grace_time"]
        self.coalesce = state["coalesce"]
        self.max_instances = state["max_instances"]
        self.next_run_time = state["next_run_time"]
        if not hasattr(self, "_jobstore_alias"):
            self._jobstore_alias = None
        if not hasattr(self, "_scheduler"):
            self._scheduler = None

    # --- display --------------------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Job):
            return self.id == other.id
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.id)

    def _repr_html_(self) -> str:
        """The notebook's rendering (Jupyter calls this); display code loads only when used."""
        from nbsched.notebook.display import job_html

        return job_html(self)

    def __rich__(self) -> object:
        """The rich library's rendering (``rich.print``, rich consoles)."""
        from nbsched.notebook.display import job_rich

        return job_rich(self)

    def __repr__(self) -> str:
        return f"<Job (id={self.id} name={self.name})>"

    def __str__(self) -> str:
        try:
            next_run_time: datetime | None = self.next_run_time
        except AttributeError:
            status = "pending"
        else:
            status = (
                "next run at: " + datetime_repr(next_run_time) if next_run_time else "paused"
            )
        return f"{self.name} (trigger: {self.trigger}, {status})"
