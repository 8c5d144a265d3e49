"""The trigger contract: when does a job fire next?

Triggers are small immutable value objects. The scheduler asks
``get_next_fire_time(previous_fire_time, now)`` after adding a job and after each run;
everything else here (equality, pickling, ``preview``) is derived from the state a
subclass declares, so each trigger module only has to describe its own fields.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections import deque
from datetime import datetime, timedelta
from numbers import Real
from typing import Any, ClassVar

__all__ = ["BaseTrigger", "check_jitter"]


def check_jitter(jitter: Any) -> None:
    """Reject anything but ``None`` or a non-negative number of seconds (every trigger's rule)."""
    if jitter is not None and (
        isinstance(jitter, bool) or not isinstance(jitter, Real) or jitter < 0
    ):
        raise ValueError(f"jitter: {jitter!r}: must be a non-negative number of seconds")


class BaseTrigger(ABC):
    """Abstract base class of every trigger.

    Subclasses set their attributes in ``__init__`` through ``_set`` (or
    ``object.__setattr__``), list them in ``_state_fields`` and implement
    ``get_next_fire_time`` and ``describe``. After construction any assignment raises
    ``AttributeError``: a trigger shared by several jobs or cached by a store can never
    change under them.
    """

    __slots__ = ()

    #: Bumped whenever a subclass changes the meaning of its pickled state.
    _state_version: ClassVar[int] = 1
    #: Attribute names that make up the trigger's identity and pickled state.
    _state_fields: ClassVar[tuple[str, ...]] = ()
    #: True for one-shot triggers: the scheduler finishes their job after any run.
    _fires_once: ClassVar[bool] = False

    # --- the contract -------------------------------------------------------------
    @abstractmethod
    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        """Return the next time to fire after ``previous_fire_time`` (or from ``now``).

        ``None`` means the trigger will never fire again.
        """

    @abstractmethod
    def describe(self) -> str:
        """Say in plain English when this trigger fires."""

    # --- helpers for subclasses -----------------------------------------------------
    def _set(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)

    @staticmethod
    def _apply_jitter(
        next_fire_time: datetime | None, jitter: float | None, now: datetime
    ) -> datetime | None:
        """Delay ``next_fire_time`` by a random 0..``jitter`` seconds (APScheduler 3 rule)."""
        if next_fire_time is None or not jitter:
            return next_fire_time
        return next_fire_time + timedelta(seconds=random.uniform(0, jitter))

    def _without_jitter(self) -> BaseTrigger:
        """A copy of this trigger with jitter removed (used by ``preview``)."""
        if not getattr(self, "jitter", None):
            return self
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

    def preview(self, n: int = 5, now: datetime | None = None) -> list[datetime]:
        """Return the next ``n`` fire times from ``now`` (default: the current time).

        Jitter is left out so the preview is repeatable: it shows the times the trigger
        aims at, which the real runs may follow by up to ``jitter`` seconds.
        """
        if n < 0:
            raise ValueError(f"n: {n!r}: must not be negative")
        if now is None:
            now = datetime.now(getattr(self, "timezone", None))
        trigger = self._without_jitter()
        times: list[datetime] = []
        previous: datetime | None = None
        while len(times) < n:
            fire_time = trigger.get_next_fire_time(previous, now)
            if fire_time is None:
                break
            times.append(fire_time)
            previous = fire_time
            now = fire_time
        return times

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable; build a new trigger instead")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def _state_values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._state_fields)

    def __getstate__(self) -> dict[str, Any]:
        state = {name: getattr(self, name) for name in self._state_fields}
        state["version"] = self._state_version
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        version = state.pop("version", 1)
        if version > self._state_version:
            raise ValueError(
                f"cannot restore {type(self).__name__} state version {version}; "
                f"this nbsched understands up to {self._state_version}"
            )
        for name in self._state_fields:
            object.__setattr__(self, name, state[name])

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._state_values() == other._state_values()

    def __hash__(self) -> int:
        return hash((type(self).__name__, *map(_hashable, self._state_values())))


def _hashable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    return value
