"""Triggers made of other triggers: fire when all agree (AND) or when any fires (OR).

Drop-ins for ``apscheduler.triggers.combining.AndTrigger``/``OrTrigger``. OrTrigger
behaves as APScheduler's, except that it keeps a later ``DateTrigger`` member pending
(see ``OrTrigger``). AndTrigger returns the same answers wherever APScheduler's
returns at all, but never hangs: APScheduler re-asks each member with the
same previous fire time and a later ``now``, which many members ignore, so two members
that disagree once loop forever. Here a member that is behind is asked for its first
fire time at or after the candidate time instead, and the search is bounded: one bound
per query of the outermost combining trigger, however deeply ANDs and ORs nest
(``MAX_SEARCH_STEPS`` member queries in all, or ``MAX_SEARCH_SECONDS`` of CPU time,
whichever comes first). When no agreement turns up within the bound the trigger logs a
warning on ``nbsched.triggers.combining`` and reports "no more fire times" (``None``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timezone, tzinfo
from typing import Any

from nbsched.timezones import local_timezone
from nbsched.triggers.base import BaseTrigger, SearchBudget, check_jitter
from nbsched.triggers.date import DateTrigger

__all__ = [
    "MAX_SEARCH_SECONDS",
    "MAX_SEARCH_STEPS",
    "AndTrigger",
    "BaseCombiningTrigger",
    "OrTrigger",
]

logger = logging.getLogger("nbsched.triggers.combining")

#: How many member queries one search may make in all (nested members included) before
#: giving up.
MAX_SEARCH_STEPS = 2_000
#: How much CPU time (of the calling thread) one search may take before giving up: the
#: backstop for members whose every query is slow (custom triggers, rare cron schedules).
MAX_SEARCH_SECONDS = 0.05

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
        search, outermost = SearchBudget.enter(MAX_SEARCH_STEPS, MAX_SEARCH_SECONDS)
        try:
            found = self._search(search, previous_fire_time, now, None)
        finally:
            if outermost:
                SearchBudget.leave()
        if found is None:
            if outermost and search.exhausted:
                self._give_up(search, previous_fire_time or now)
            return None
        return self._apply_jitter(found, self.jitter, now)

    def _first_at_or_after(self, now: datetime) -> datetime | None:
        """The first time not before ``now`` all members agree on (no jitter), in one
        bounded search (``preview``, and this trigger as a member of another AND)."""
        search, outermost = SearchBudget.enter(MAX_SEARCH_STEPS, MAX_SEARCH_SECONDS)
        try:
            found = self._search(search, None, now, now)
        finally:
            if outermost:
                SearchBudget.leave()
        if found is None and outermost and search.exhausted:
            self._give_up(search, now)
        return found

    def _search(
        self,
        search: SearchBudget,
        previous_fire_time: datetime | None,
        now: datetime,
        at_or_after: datetime | None,
    ) -> datetime | None:
        """The earliest agreement of the members: after ``previous_fire_time`` by the
        APScheduler contract, or (``at_or_after`` given) the first not before it."""
        members = self._plain_members
        times: list[datetime | None] = []
        for member in members:
            if not search.spend():
                return None
            if at_or_after is None:
                times.append(member.get_next_fire_time(previous_fire_time, now))
            else:
                times.append(_first_at_or_after(member, at_or_after, search))
        while True:
            if any(t is None for t in times):
                return None
            instants = [t.astimezone(_UTC) for t in times]  # type: ignore[union-attr]
            latest = max(instants)
            if all(instant == latest for instant in instants):
                return times[0]
            for index, member in enumerate(members):
                if instants[index] < latest:
                    times[index] = _catch_up(member, times[index], latest, search)
                    if search.exhausted:
                        return None

    def _give_up(self, search: SearchBudget, after: datetime) -> None:
        _give_up(self, search, after)

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
        # Members that are combining triggers share this query's one search bound (the
        # OR's own member queries, one each, are not counted: there are as many as
        # it has members, however many that is).
        search, outermost = SearchBudget.enter(MAX_SEARCH_STEPS, MAX_SEARCH_SECONDS)
        try:
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
        finally:
            if outermost:
                SearchBudget.leave()
        if outermost and search.exhausted:  # an AND member gave up: say so once
            _give_up(self, search, previous_fire_time or now)
        return self._apply_jitter(earliest, self.jitter, now)

    def _first_at_or_after(self, now: datetime) -> datetime | None:
        """The earliest of the members' first fire times not before ``now``."""
        search, outermost = SearchBudget.enter(MAX_SEARCH_STEPS, MAX_SEARCH_SECONDS)
        try:
            times = []
            for member in self._plain_members:
                times.append(_first_at_or_after(member, now, search))
        finally:
            if outermost:
                SearchBudget.leave()
        if outermost and search.exhausted:
            _give_up(self, search, now)
        pending = [t for t in times if t is not None]
        return min(pending, key=lambda t: t.astimezone(_UTC)) if pending else None

    def describe(self) -> str:
        return self._describe_members("any")

    def __str__(self) -> str:
        return "or[{}]".format(", ".join(str(member) for member in self.triggers))


def _give_up(trigger: BaseTrigger, search: SearchBudget, after: datetime) -> None:
    """The one warning of a search that reached its bound (logged by the outermost
    combining trigger of the query)."""
    spent = search.steps - max(search.left, 0)
    logger.warning(
        "%s: no time all members agree on turned up within %d steps (%s) after %s; "
        "treating the schedule as finished",
        trigger,
        spent,
        "the step bound" if search.left < 0 else f"the {MAX_SEARCH_SECONDS:g} s CPU bound",
        after,
    )


def _plain(member: Any) -> Any:
    """The member without jitter, when it is one of ours."""
    return member._without_jitter() if isinstance(member, BaseTrigger) else member


def _catch_up(
    member: Any, fire_time: datetime, target: datetime, search: SearchBudget
) -> datetime | None:
    """The member's first fire time at or after ``target`` (None when it has none or
    the search's bound is reached).

    nbsched's triggers answer that directly (``_first_at_or_after``); a foreign trigger
    is asked without a previous fire time and, if it answers with an earlier time, is
    stepped forward from its own fire times.
    """
    if not search.spend():
        return None
    first = getattr(member, "_first_at_or_after", None)  # ours: jumps there directly
    found = first(target) if first is not None else member.get_next_fire_time(None, target)
    if found is not None and found.astimezone(_UTC) < target:
        found = fire_time if fire_time.astimezone(_UTC) > found.astimezone(_UTC) else found
        while found is not None and found.astimezone(_UTC) < target:
            if not search.spend():
                return None
            found = member.get_next_fire_time(found, target)
    return found


def _first_at_or_after(member: Any, now: datetime, search: SearchBudget) -> datetime | None:
    """A member's first fire time not before ``now``: ours answer it directly, a foreign
    trigger is walked (each step spends from the search's bound)."""
    first = getattr(member, "_first_at_or_after", None)
    if first is not None:
        return first(now)
    fire_time = member.get_next_fire_time(None, now)
    while fire_time is not None and fire_time.astimezone(_UTC) < now.astimezone(_UTC):
        if not search.spend():
            return None
        fire_time = member.get_next_fire_time(fire_time, now)
    return fire_time


def _describe(member: Any) -> str:
    describe = getattr(member, "describe", None)
    return describe() if callable(describe) else str(member)
