"""The trigger contract: when does a job fire next?

The scheduler asks ``get_next_fire_time(previous_fire_time, now)`` after adding a job
and after each run. nbsched's own triggers are small immutable value objects whose
equality, pickling and ``preview`` are derived from the state they declare; a custom
trigger written for APScheduler (a plain subclass implementing only
``get_next_fire_time``) works unchanged and gets ``describe``/``preview`` for free.
"""

from __future__ import annotations

import copy
import math
import random
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from datetime import datetime, timedelta, timezone
from numbers import Real
from typing import Any, ClassVar

from nbsched.timezones import local_timezone, utc_add

__all__ = ["MAX_JITTER", "BaseTrigger", "check_jitter"]

#: The largest ``jitter`` accepted, in seconds (about 31.7 years). A longer delay is a
#: mistake, and one of ~250 billion seconds would not fit a datetime at all.
MAX_JITTER = 1_000_000_000


def check_jitter(jitter: Any) -> None:
    """Reject anything but ``None`` or a finite number of seconds in 0..``MAX_JITTER``
    (every trigger's rule), with a ValueError naming ``jitter``."""
    if jitter is None:
        return
    if (
        isinstance(jitter, bool)
        or not isinstance(jitter, Real)
        or not _finite(jitter)
        or not 0 <= jitter <= MAX_JITTER
    ):
        raise ValueError(
            f"jitter: {jitter!r}: must be a non-negative number of seconds "
            f"(finite, at most {MAX_JITTER:,})"
        )


def _finite(value: Real) -> bool:
    """False for infinities and NaN; True for any int (however large) and finite float."""
    if isinstance(value, int):
        return True
    try:
        return math.isfinite(value)
    except OverflowError:  # a Fraction too large for a float: finite, just huge
        return True


class SearchBudget:
    """One bound for one trigger query, however deeply combining triggers nest.

    ``AndTrigger``/``OrTrigger`` (and ``_first_at_or_after`` when stepping) open a search
    with ``SearchBudget.enter()``; a combining trigger inside another one joins the open
    search instead of starting its own, so a nested AND cannot multiply the bound. Every
    member query spends one step; the search is exhausted after ``steps`` steps or
    ``seconds`` of this thread's CPU time, whichever comes first, and then every
    combining trigger in it answers ``None`` (the outermost one logs why).
    """

    __slots__ = ("deadline", "exhausted", "left", "steps")

    _local = threading.local()

    def __init__(self, steps: int, seconds: float) -> None:
        self.steps = steps
        self.left = steps
        self.deadline = _cpu_time() + seconds
        self.exhausted = False

    @classmethod
    def current(cls) -> SearchBudget | None:
        return getattr(cls._local, "search", None)

    @classmethod
    def enter(cls, steps: int, seconds: float) -> tuple[SearchBudget, bool]:
        """The open search (``outermost`` False) or a new one (``outermost`` True)."""
        search = getattr(cls._local, "search", None)
        if search is not None:
            return search, False
        search = cls._local.search = cls(steps, seconds)
        return search, True

    @classmethod
    def leave(cls) -> None:
        cls._local.search = None

    def spend(self) -> bool:
        """Spend one step; False (and exhausted from then on) when the bound is reached."""
        if self.exhausted:
            return False
        self.left -= 1
        if self.left < 0 or _cpu_time() > self.deadline:
            self.exhausted = True
            return False
        return True


_cpu_time = getattr(time, "thread_time", time.process_time)


class BaseTrigger(ABC):
    """Abstract base class of every trigger.

    Two kinds of subclass use it:

    * **Custom triggers**, written as APScheduler documents them: subclass ``BaseTrigger``,
      set attributes in ``__init__`` as usual and implement ``get_next_fire_time``. They
      behave like plain Python objects (assignable attributes, identity equality, pickled
      through the default ``__getstate__``/``__setstate__`` or their own) and inherit
      ``describe``, ``preview``, ``fire_times_through`` and the notebook display.
    * **nbsched's own triggers** (the classes in ``nbsched.triggers``) declare their state
      in ``_state_fields``, set it through ``_set`` and get value equality, hashing and
      versioned pickling from it. They are immutable: the job serializer caches a
      trigger's pickle per object and shares one decoded trigger between the jobs stored
      with the same bytes, so a trigger that changed in place would be stored stale or
      change under another job. Build a new trigger instead of assigning to one.

    A subclass of one of nbsched's triggers keeps its parent's value semantics and
    pickling and may not reassign the parent's fields, but may add attributes of its own
    (they are pickled with it).
    """

    __slots__ = ()

    #: Bumped whenever a subclass changes the meaning of its pickled state.
    _state_version: ClassVar[int] = 1
    #: Attribute names that make up the trigger's identity and pickled state.
    _state_fields: ClassVar[tuple[str, ...]] = ()
    #: True for one-shot triggers: the scheduler finishes their job after any run.
    _fires_once: ClassVar[bool] = False
    #: True for nbsched's own trigger classes: every assignment raises.
    _frozen: ClassVar[bool] = False
    #: Attribute names a subclass of one of nbsched's triggers may not reassign.
    _locked: ClassVar[frozenset[str]] = frozenset()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # The same test as the serializer's (``serialization._is_own_trigger``): exactly
        # the classes whose objects it caches and shares are the ones that must not change.
        cls._frozen = bool(cls._state_fields) and cls.__module__.startswith("nbsched.triggers.")
        locked: set[str] = set()
        for klass in cls.__mro__:
            if klass.__dict__.get("_frozen"):
                locked.update(klass._state_fields)
                slots = klass.__dict__.get("__slots__", ())
                locked.update((slots,) if isinstance(slots, str) else slots)
        cls._locked = frozenset(locked)

    # --- the contract -------------------------------------------------------------
    @abstractmethod
    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        """Return the next time to fire after ``previous_fire_time`` (or from ``now``).

        ``None`` means the trigger will never fire again.
        """

    def describe(self) -> str:
        """Say in plain English when this trigger fires.

        nbsched's triggers spell out their schedule; for a custom trigger this default
        uses its ``str`` when the class defines one, else names the class.
        """
        cls = type(self)
        if cls.__str__ is not object.__str__ or cls.__repr__ is not object.__repr__:
            return str(self)
        return f"on the schedule of {cls.__qualname__}"

    # --- helpers for subclasses -----------------------------------------------------
    def _set(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)

    @staticmethod
    def _apply_jitter(
        next_fire_time: datetime | None, jitter: float | None, now: datetime
    ) -> datetime | None:
        """Delay ``next_fire_time`` by a random 0..``jitter`` seconds (APScheduler 3 rule).

        The delay is elapsed time: across a DST change the result keeps the right
        ``fold`` and is never a nonexistent wall time (plain ``+`` would add wall-clock
        time and forget ``fold``, which moved a fall-back-night fire time by an hour).
        """
        if next_fire_time is None or not jitter:
            return next_fire_time
        try:
            return utc_add(next_fire_time, timedelta(seconds=random.uniform(0, jitter)))
        except OverflowError:
            return next_fire_time  # a delay past year 9999: run at the aimed time

    def _without_jitter(self) -> BaseTrigger:
        """A copy of this trigger with jitter removed (used by ``preview``)."""
        if not getattr(self, "jitter", None):
            return self
        if not self._state_fields:  # a custom trigger: a plain copy, then unset jitter
            clone = copy.copy(self)
            try:
                clone.jitter = None  # type: ignore[attr-defined]
            except AttributeError:
                return self
            return clone
        clone = object.__new__(type(self))
        state = self.__getstate__()
        state["jitter"] = None
        clone.__setstate__(state)
        return clone

    # --- derived behaviour ---------------------------------------------------------
    def fire_times_through(
        self, first: datetime, now: datetime, keep: int
    ) -> tuple[list[datetime], int]:
        """Fire times from ``first`` (itself a fire time) up to and including ``now``.

        Returns ``(latest, total)``: the last ``keep`` of those times, oldest first, and
        how many there are in all. The scheduler uses it to catch up a job that is far
        behind: coalescing needs only the latest missed time, and a bounded replay needs
        the last few plus a count for its warning. This generic version walks the
        trigger (without jitter); triggers that can do it arithmetically override it, so
        a job a day behind on a one-second interval costs O(1), not 86,400 steps.
        """
        if keep < 1:
            raise ValueError(f"keep: {keep!r}: must be at least 1")
        if first > now:
            return [], 0
        trigger = self._without_jitter()
        latest: deque[datetime] = deque(maxlen=keep)
        total = 0
        fire_time: datetime | None = first
        while fire_time is not None and fire_time <= now:
            latest.append(fire_time)
            total += 1
            fire_time = trigger.get_next_fire_time(fire_time, now)
        return list(latest), total

    def _repr_html_(self) -> str:
        """The notebook's rendering (Jupyter calls this); display code loads only when used."""
        from nbsched.notebook.display import trigger_html

        return trigger_html(self)

    def __rich__(self) -> object:
        """The rich library's rendering (``rich.print``, rich consoles)."""
        from nbsched.notebook.display import trigger_rich

        return trigger_rich(self)

    def _first_at_or_after(self, now: datetime) -> datetime | None:
        """The trigger's first fire time not before ``now`` (``preview``, ``AndTrigger``).

        A trigger asked without a previous fire time may answer with a past time (a
        date or calendar-interval trigger starting in the past: the scheduler treats
        that as a misfire); this steps past those, at most ``_SKIP_LIMIT`` times.
        Triggers that can jump straight there override it.
        """
        fire_time = self.get_next_fire_time(None, now)
        search = SearchBudget.current()  # inside an AND/OR search: its bound counts
        for _ in range(_SKIP_LIMIT):
            if fire_time is None or not _before(fire_time, now):
                return fire_time
            if search is not None and not search.spend():
                return None
            fire_time = self.get_next_fire_time(fire_time, now)
        return None

    def preview(self, n: int = 5, now: datetime | None = None) -> list[datetime]:
        """Return the next ``n`` fire times at or after ``now`` (default: the current time).

        Jitter is left out so the preview is repeatable: it shows the times the trigger
        aims at, which the real runs may follow by up to ``jitter`` seconds.
        """
        if n < 0:
            raise ValueError(f"n: {n!r}: must not be negative")
        if now is None:
            now = datetime.now(getattr(self, "timezone", None) or local_timezone())
        trigger = self._without_jitter()
        times: list[datetime] = []
        fire_time = trigger._first_at_or_after(now) if n else None
        while fire_time is not None:
            times.append(fire_time)
            if len(times) >= n:
                break
            fire_time = trigger.get_next_fire_time(fire_time, fire_time)
        return times

    def __setattr__(self, name: str, value: Any) -> None:
        if self._frozen or name in self._locked:
            raise AttributeError(
                f"{type(self).__name__} is immutable; build a new trigger instead"
            )
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        if self._frozen or name in self._locked:
            raise AttributeError(f"{type(self).__name__} is immutable")
        object.__delattr__(self, name)

    def _state_values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._state_fields)

    def __getstate__(self) -> Any:
        if not self._state_fields:
            return _plain_getstate(self)
        state = {name: getattr(self, name) for name in self._state_fields}
        state["version"] = self._state_version
        if not self._frozen:
            extra = getattr(self, "__dict__", None)
            if extra:  # a user subclass's own attributes
                state["__dict__"] = dict(extra)
        return state

    def __setstate__(self, state: Any) -> None:
        if not self._state_fields:
            _plain_setstate(self, state)
            return
        state = dict(state)
        version = state.pop("version", 1)
        if version > self._state_version:
            raise ValueError(
                f"cannot restore {type(self).__name__} state version {version}; "
                f"this nbsched understands up to {self._state_version}"
            )
        for name in self._state_fields:
            object.__setattr__(self, name, state[name])
        for name, value in state.get("__dict__", {}).items():
            object.__setattr__(self, name, value)

    def __eq__(self, other: object) -> bool:
        if not self._state_fields:
            # A custom trigger: identity, as in APScheduler (object's own rule).
            return True if self is other else NotImplemented
        if type(other) is not type(self):
            return NotImplemented
        return self._state_values() == other._state_values()

    def __hash__(self) -> int:
        if not self._state_fields:
            return object.__hash__(self)
        return hash((type(self).__name__, *map(_hashable, self._state_values())))


#: How many past fire times ``_first_at_or_after`` steps over before giving up.
_SKIP_LIMIT = 100_000


def _before(a: datetime, b: datetime) -> bool:
    """``a < b`` by instant when both are aware (``<`` ignores ``fold`` within a zone)."""
    if a.tzinfo is not None and b.tzinfo is not None:
        return a.astimezone(timezone.utc) < b.astimezone(timezone.utc)
    return a < b


def _plain_getstate(obj: Any) -> Any:
    """What ``object.__getstate__`` returns (Python 3.11+), for Python 3.10 too."""
    state = getattr(obj, "__dict__", None)
    state = dict(state) if state else None
    slots = {}
    for klass in type(obj).__mro__:
        names = klass.__dict__.get("__slots__", ())
        for name in (names,) if isinstance(names, str) else names:
            if name not in ("__dict__", "__weakref__") and hasattr(obj, name):
                slots[name] = getattr(obj, name)
    return (state, slots) if slots else state


def _plain_setstate(obj: Any, state: Any) -> None:
    """What unpickling does for an object without ``__setstate__``."""
    slots = None
    if isinstance(state, tuple) and len(state) == 2:
        state, slots = state
    for mapping in (state, slots):
        for name, value in (mapping or {}).items():
            object.__setattr__(obj, name, value)


def _hashable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    return value
