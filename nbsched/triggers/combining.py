"""Triggers made of other triggers: fire when all agree (AND) or when any fires (OR).

Drop-ins for ``apscheduler.triggers.combining.AndTrigger``/``OrTrigger``. OrTrigger
behaves as APScheduler's, except that it keeps a later ``DateTrigger`` member pending
(see ``OrTrigger``). AndTrigger returns the same answers wherever APScheduler's
returns at all, but never hangs: APScheduler re-asks each member with the
same previous fire time and a later ``now``, which many members ignore, so two members
that disagree once loop forever. Here a member that is behind is asked for its first
fire time at or after the candidate time instead, and the search is bounded
(``MAX_SEARCH_STEPS`` member queries); when no agreement turns up within the bound the
trigger logs a warning on ``nbsched.triggers.combining`` and reports "no more fire
times" (``None``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timezone, tzinfo
from typing import Any

from nbsched.timezones import local_timezone
from nbsched.triggers.base import BaseTrigger, check_jitter
from nbsched.triggers.date import DateTrigger

__all__ = ["MAX_SEARCH_STEPS", "AndTrigger", "BaseCombiningTrigger", "OrTrigger"]

logger = logging.getLogger("nbsched.triggers.combining")

#: How many member queries one AndTrigger search may make before giving up.
MAX_SEARCH_STEPS = 10_000

_UTC = timezone.utc


class BaseCombiningTrigger(BaseTrigger):
    """Common part of AND/OR: a non-empty sequence of member triggers plus jitter."""

    __slots__ = ("_plain_members", "jitter", "triggers")
    _state_version = 1
    _state_fields = ("triggers", "jitter")

    def __init__(self, triggers: Iterable[Any], jitter: float | None = None) -> None:
        if isinstance(triggers, (str, bytes)) or not isinstance(triggers, Iterable):
            raise TypeError(
                f"triggers: expected a list of triggers, got {type(triggers).__name__}"
            )
        members = tuple(triggers)
        if not members:
            raise ValueError("triggers: []: needs at least one trigger")
        for index, member in enumerate(members):
            if not callable(getattr(member, "get_next_fire_time", None)):
                raise TypeError(f"triggers[{index}]: {member!r} is not a trigger")
        check_jitter(jitter)
        self._set("triggers", members)
        self._set("jitter", jitter)
        self._derive()

    def _derive(self) -> None:
        # The members as the AND search uses them (without their own jitter).
        self._set("_plain_members", tuple(_plain(member) for member in self.triggers))

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        state["triggers"] = tuple(state["triggers"])
        super().__setstate__(state)
        self._derive()

    @property
    def timezone(self) -> tzinfo:
        """The first member's zone (used by ``preview`` to read the current time)."""
        for member in self.triggers:
            zone = getattr(member, "timezone", None)
            if zone is not None:
                return zone
        return local_timezone()

    def _describe_members(self, word: str) -> str:
        text = f"when {word} of: " + "; ".join(_describe(member) for member in self.triggers)
        if self.jitter:
            text += f", delayed by up to {self.jitter} s"
        return text

    def __repr__(self) -> str:
        members = ", ".join(repr(member) for member in self.triggers)
        jitter = f", jitter={self.jitter}" if self.jitter else ""
        return f"<{type(self).__name__}([{members}]{jitter})>"


class AndTrigger(BaseCombiningTrigger):
    """Fire at the earliest time that every member trigger fires at.

    Finished (``None``) as soon as any member is finished. Members' own jitter is
    ignored while searching (exact agreement is the point); give ``jitter`` to the
    AndTrigger instead. Best used with members that fire at fixed wall times (cron,
    calendar interval, date); an interval member works but may make agreement rare.
    """

    __slots__ = ()

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        members = self._plain_members
        times = [member.get_next_fire_time(previous_fire_time, now) for member in members]
        budget = MAX_SEARCH_STEPS - len(members)
        while budget > 0:
            if any(t is None for t in times):
                return None
            instants = [t.astimezone(_UTC) for t in times]
            latest = max(instants)
            if all(instant == latest for instant in instants):
                return self._apply_jitter(times[0], self.jitter, now)
            for index, member in enumerate(members):
                if instants[index] < latest:
                    times[index], budget = _catch_up(member, times[index], latest, budget)
        logger.warning(
            "%s: no time all members agree on turned up within %d steps after %s; "
            "treating the schedule as finished",
            self,
            MAX_SEARCH_STEPS,
            previous_fire_time or now,
        )
        return None

    def describe(self) -> str:
        return self._describe_members("all")

    def __str__(self) -> str:
        return "and[{}]".format(", ".join(str(member) for member in self.triggers))


class OrTrigger(BaseCombiningTrigger):
    """Fire whenever any member fires: the earliest of their next fire times.

    Finished when every member is finished. As in APScheduler, each member is asked
    with the OR trigger's previous fire time, whichever member produced it -- with one
    deliberate exception: a ``DateTrigger`` member whose ``run_date`` is still ahead of
    that previous fire time stays pending (APScheduler drops it as soon as any other
    member has fired, so ``OrTrigger([DateTrigger(later), cron])`` never runs the date).
    Ties and fall-back nights are compared by instant, not wall reading.
    """

    __slots__ = ()

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        earliest = earliest_instant = None
        for member in self.triggers:
            if isinstance(member, DateTrigger):
                fire_time = member._pending_after(previous_fire_time)
            else:
                fire_time = member.get_next_fire_time(previous_fire_time, now)
            if fire_time is None:
                continue
            instant = fire_time.astimezone(_UTC) if fire_time.tzinfo else fire_time
            if earliest_instant is None or instant < earliest_instant:
                earliest, earliest_instant = fire_time, instant
        return self._apply_jitter(earliest, self.jitter, now)

    def _first_at_or_after(self, now: datetime) -> datetime | None:
        """The earliest of the members' first fire times not before ``now``."""
        times = []
        for member in self._plain_members:
            first = getattr(member, "_first_at_or_after", None)
            times.append(first(now) if first is not None else _first_foreign(member, now))
        pending = [t for t in times if t is not None]
        return min(pending, key=lambda t: t.astimezone(_UTC)) if pending else None

    def describe(self) -> str:
        return self._describe_members("any")

    def __str__(self) -> str:
        return "or[{}]".format(", ".join(str(member) for member in self.triggers))


def _plain(member: Any) -> Any:
    """The member without jitter, when it is one of ours."""
    return member._without_jitter() if isinstance(member, BaseTrigger) else member


def _catch_up(
    member: Any, fire_time: datetime, target: datetime, budget: int
) -> tuple[datetime | None, int]:
    """The member's first fire time at or after ``target``, and the budget left.

    nbsched's triggers answer that directly (``_first_at_or_after``); a foreign trigger
    is asked without a previous fire time and, if it answers with an earlier time, is
    stepped forward from its own fire times.
    """
    budget -= 1
    first = getattr(member, "_first_at_or_after", None)  # ours: jumps there directly
    found = first(target) if first is not None else member.get_next_fire_time(None, target)
    if found is not None and found.astimezone(_UTC) < target:
        found = fire_time if fire_time.astimezone(_UTC) > found.astimezone(_UTC) else found
        while found is not None and found.astimezone(_UTC) < target and budget > 0:
            budget -= 1
            found = member.get_next_fire_time(found, target)
    return found, budget


def _first_foreign(member: Any, now: datetime) -> datetime | None:
    """A foreign trigger's first fire time not before ``now`` (a bounded walk)."""
    fire_time = member.get_next_fire_time(None, now)
    for _ in range(MAX_SEARCH_STEPS):
        if fire_time is None or fire_time.astimezone(_UTC) >= now.astimezone(_UTC):
            return fire_time
        fire_time = member.get_next_fire_time(fire_time, now)
    return None


def _describe(member: Any) -> str:
    describe = getattr(member, "describe", None)
    return describe() if callable(describe) else str(member)
