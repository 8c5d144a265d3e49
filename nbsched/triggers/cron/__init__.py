"""The cron trigger: fire whenever the wall-clock time matches every field.

Drop-in for ``apscheduler.triggers.cron.CronTrigger`` (keyword form, same defaults and
results), with ``from_crontab`` following real (Vixie) cron instead of APScheduler's
variant. The search works on integers: each field is a sorted tuple of allowed values,
the next value comes from ``bisect``, and a field that runs out carries into the next
larger unit in one step, so finding the next time costs a handful of bisects instead of
a walk through every candidate datetime. Only the final answer becomes an aware
datetime, and that is where DST is handled: a wall time that does not exist (spring
forward) is skipped, one that happens twice (fall back) fires once, at its first
occurrence. docs/cron.md spells out every rule and where it differs from APScheduler.
"""

from __future__ import annotations

import logging
from bisect import bisect_left
from calendar import monthrange
from datetime import date, datetime, timedelta, timezone, tzinfo
from typing import Any

from nbsched.timezones import as_timezone, datetime_repr, local_timezone, to_datetime
from nbsched.triggers.base import BaseTrigger
from nbsched.triggers.cron.crontab import parse_crontab
from nbsched.triggers.cron.description import describe_trigger
from nbsched.triggers.cron.fields import (
    DEFAULT_VALUES,
    FIELD_NAMES,
    BaseField,
    make_field,
)

__all__ = ["CronTrigger"]

logger = logging.getLogger("nbsched.triggers.cron")

_UTC = timezone.utc
_ONE_MICROSECOND = timedelta(microseconds=1)
_ONE_SECOND = timedelta(seconds=1)
_DAY_CACHE_LIMIT = 4096


class CronTrigger(BaseTrigger):
    """Fire when the current time matches all the given fields, like UNIX cron.

    Fields (each an int or an expression string): ``year`` (1970-9999), ``month``
    (1-12 or ``jan``..), ``day`` (1-31, ``last``, ``1st``..``5th``/``last`` + weekday),
    ``week`` (ISO week 1-53), ``day_of_week`` (0-6 with **0 = Monday**, or ``mon``..),
    ``hour``, ``minute``, ``second``. As in APScheduler, fields less significant than
    the least significant one given default to their minimum (``day=1`` means
    00:00:00 on the 1st); more significant ones default to ``*``.

    ``start_date``/``end_date`` bound the schedule (inclusive); ``timezone`` (a tzinfo
    or IANA name) defaults to the zone of ``start_date``/``end_date`` or else the
    machine's local zone; ``jitter`` delays each run by up to that many seconds.
    """

    FIELD_NAMES = FIELD_NAMES
    _state_version = 1
    _state_fields = ("timezone", "start_date", "end_date", "fields", "jitter", "day_or")

    def __init__(
        self,
        year: int | str | None = None,
        month: int | str | None = None,
        day: int | str | None = None,
        week: int | str | None = None,
        day_of_week: int | str | None = None,
        hour: int | str | None = None,
        minute: int | str | None = None,
        second: int | str | None = None,
        start_date: datetime | date | str | None = None,
        end_date: datetime | date | str | None = None,
        timezone: tzinfo | str | None = None,
        jitter: float | None = None,
    ) -> None:
        given = {
            "year": year,
            "month": month,
            "day": day,
            "week": week,
            "day_of_week": day_of_week,
            "hour": hour,
            "minute": minute,
            "second": second,
        }
        self._init(given, start_date, end_date, timezone, jitter, day_or=False)

    def _init(
        self,
        given: dict[str, Any],
        start_date: Any,
        end_date: Any,
        timezone: Any,
        jitter: Any,
        day_or: bool,
    ) -> None:
        if timezone:
            tz = as_timezone(timezone)
        elif isinstance(start_date, datetime) and start_date.tzinfo:
            tz = as_timezone(start_date.tzinfo)
        elif isinstance(end_date, datetime) and end_date.tzinfo:
            tz = as_timezone(end_date.tzinfo)
        else:
            tz = local_timezone()
        start = to_datetime(start_date, tz, "start_date")
        end = to_datetime(end_date, tz, "end_date")
        if jitter is not None and (
            isinstance(jitter, bool) or not isinstance(jitter, (int, float)) or jitter < 0
        ):
            raise ValueError(f"jitter: {jitter!r}: must be a non-negative number of seconds")

        remaining = {name for name, value in given.items() if value is not None}
        any_given = bool(remaining)
        fields: list[BaseField] = []
        for name in FIELD_NAMES:
            value = given.get(name)
            if value is not None:
                remaining.discard(name)
                fields.append(make_field(name, value))
            elif remaining or not any_given:
                # Before the last given field (or when nothing is given): match anything.
                fields.append(make_field(name, "*", is_default=True))
            else:
                fields.append(make_field(name, DEFAULT_VALUES[name], is_default=True))

        self._set("timezone", tz)
        self._set("start_date", start)
        self._set("end_date", end)
        self._set("jitter", jitter)
        self._set("fields", fields)
        self._set("day_or", day_or)
        self._compile()

    @classmethod
    def from_crontab(cls, expr: str, timezone: tzinfo | str | None = None) -> CronTrigger:
        """Build a trigger from a standard 5-field crontab line, with real cron semantics.

        Unlike APScheduler 3, this follows Vixie cron (as croniter does): weekday 0 and
        7 are Sunday, and when both day-of-month and day-of-week are restricted (neither
        starts with ``*``) a day matching *either* fires. ``@yearly``, ``@annually``,
        ``@monthly``, ``@weekly``, ``@daily``, ``@midnight`` and ``@hourly`` work too.
        """
        given, day_or = parse_crontab(expr)
        trigger = cls.__new__(cls)
        trigger._init(given, None, None, timezone, None, day_or=day_or)
        return trigger

    # --- compilation -------------------------------------------------------------
    def _compile(self) -> None:
        """Precompute the sorted value tuples the search bisects (not part of the state)."""
        by_name = {field.name: field for field in self.fields}
        self._set("_years", by_name["year"].values)
        self._set("_months", by_name["month"].values)
        self._set("_hours", by_name["hour"].values)
        self._set("_minutes", by_name["minute"].values)
        self._set("_seconds", by_name["second"].values)
        day, week, weekday = by_name["day"], by_name["week"], by_name["day_of_week"]
        self._set("_day_field", day)
        self._set("_weeks", None if week.is_wildcard else frozenset(week.values))
        self._set("_weekdays", None if weekday.is_wildcard else frozenset(weekday.values))
        self._set("_day_cache", {})

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        state.setdefault("day_or", False)
        super().__setstate__(state)
        self._compile()

    def _days(self, year: int, month: int) -> tuple[int, ...]:
        """Sorted days of ``year-month`` that satisfy day, week and day_of_week."""
        cache = self._day_cache
        key = year * 13 + month
        days = cache.get(key)
        if days is not None:
            return days
        first_weekday, length = monthrange(year, month)
        field = self._day_field
        dom = {d for d in field.values if d <= length}
        for expr in field.dynamic:
            dom.update(expr.days_in(year, month))
        weekdays, weeks = self._weekdays, self._weeks
        if self.day_or:
            # Vixie cron: both day fields were restricted, so either one may match.
            dom.update(
                d
                for d in range(1, length + 1)
                if weekdays is None or (first_weekday + d - 1) % 7 in weekdays
            )
        elif weekdays is not None:
            dom = {d for d in dom if (first_weekday + d - 1) % 7 in weekdays}
        if weeks is not None:
            dom = {d for d in dom if date(year, month, d).isocalendar()[1] in weeks}
        days = tuple(sorted(dom))
        if len(cache) >= _DAY_CACHE_LIMIT:
            cache.clear()
        cache[key] = days
        return days

    def _next_wall(
        self, y: int, mo: int, d: int, h: int, mi: int, s: int
    ) -> tuple[int, int, int, int, int, int] | None:
        """The first matching wall-clock time at or after the given one (which may overflow).

        Out-of-range inputs such as ``s == 60`` or ``d == 32`` are fine: the bisect for
        that unit finds nothing and the search carries into the next larger unit.
        """
        years, months = self._years, self._months
        hours, minutes, seconds = self._hours, self._minutes, self._seconds
        n_years, n_months = len(years), len(months)
        n_hours, n_minutes, n_seconds = len(hours), len(minutes), len(seconds)
        while True:
            i = bisect_left(years, y)
            if i == n_years:
                return None
            if years[i] != y:
                y, mo, d, h, mi, s = years[i], 1, 1, 0, 0, 0
            i = bisect_left(months, mo)
            if i == n_months:
                y, mo, d, h, mi, s = y + 1, 1, 1, 0, 0, 0
                continue
            if months[i] != mo:
                mo, d, h, mi, s = months[i], 1, 0, 0, 0
            days = self._days(y, mo)
            i = bisect_left(days, d)
            if i == len(days):
                if mo == 12:
                    y, mo = y + 1, 1
                else:
                    mo += 1
                d, h, mi, s = 1, 0, 0, 0
                continue
            if days[i] != d:
                d, h, mi, s = days[i], 0, 0, 0
            i = bisect_left(hours, h)
            if i == n_hours:
                d, h, mi, s = d + 1, 0, 0, 0
                continue
            if hours[i] != h:
                h, mi, s = hours[i], 0, 0
            i = bisect_left(minutes, mi)
            if i == n_minutes:
                h, mi, s = h + 1, 0, 0
                continue
            if minutes[i] != mi:
                mi, s = minutes[i], 0
            i = bisect_left(seconds, s)
            if i == n_seconds:
                mi, s = mi + 1, 0
                continue
            return y, mo, d, h, mi, seconds[i]

    # --- the contract ------------------------------------------------------------
    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        tz = self.timezone
        if previous_fire_time is not None:
            # APScheduler's rule: continue right after the previous fire time, unless
            # the clock says we are before it (then from now).
            after_previous = previous_fire_time.astimezone(_UTC) + _ONE_MICROSECOND
            start = now if now < after_previous else after_previous
            if start == previous_fire_time:
                start = after_previous
        elif self.start_date is not None:
            start = max(now, self.start_date)
        else:
            start = now
        try:
            start = start.astimezone(_UTC)
            if start.microsecond:
                start = start.replace(microsecond=0) + _ONE_SECOND
            local = start.astimezone(tz)
        except OverflowError:
            return None  # past year 9999: nothing can follow
        wall = (local.year, local.month, local.day, local.hour, local.minute, local.second)
        if local.fold and local.utcoffset() != local.replace(fold=0).utcoffset():
            # We are in the second pass of a repeated hour; its wall times already
            # fired during the first pass, so resume where the repetition ends.
            wall = self._wall_after(local, lambda dt: not _is_ambiguous(dt))

        while True:
            found = self._next_wall(*wall)
            if found is None:
                return None
            fire_time = datetime(*found, tzinfo=tz)
            if fire_time.utcoffset() >= fire_time.replace(fold=1).utcoffset():
                break  # exists (once, or this is the first of its two occurrences)
            # A wall time inside a DST gap does not exist: skip past the gap.
            wall = self._wall_after(fire_time, lambda dt: not _is_missing(dt))

        end_date = self.end_date
        if end_date is not None and fire_time > end_date:
            return None
        fire_time = self._apply_jitter(fire_time, self.jitter, now)
        if end_date is not None and fire_time > end_date:
            return end_date
        return fire_time

    @staticmethod
    def _wall_after(moment: datetime, done: Any) -> tuple[int, int, int, int, int, int]:
        """First wall time after ``moment`` (within one DST shift) for which ``done`` holds.

        Binary search over whole seconds; the predicate flips once within the shift.
        """
        naive = moment.replace(tzinfo=None, fold=0)
        tz = moment.tzinfo
        shift = int(
            abs(
                moment.replace(fold=1).utcoffset() - moment.replace(fold=0).utcoffset()
            ).total_seconds()
        )
        low, high = 0, max(shift, 1)
        while low < high:
            middle = (low + high) // 2
            if done((naive + timedelta(seconds=middle)).replace(tzinfo=tz)):
                high = middle
            else:
                low = middle + 1
        wall = naive + timedelta(seconds=low)
        return wall.year, wall.month, wall.day, wall.hour, wall.minute, wall.second

    def describe(self) -> str:
        return describe_trigger(self)

    # --- display -----------------------------------------------------------------
    def __str__(self) -> str:
        options = ", ".join(f"{f.name}='{f}'" for f in self.fields if not f.is_default)
        return f"cron[{options}]"

    def __repr__(self) -> str:
        options = [f"{f.name}='{f}'" for f in self.fields if not f.is_default]
        if self.start_date:
            options.append(f"start_date={datetime_repr(self.start_date)!r}")
        if self.end_date:
            options.append(f"end_date={datetime_repr(self.end_date)!r}")
        if self.jitter:
            options.append(f"jitter={self.jitter}")
        return f"<{type(self).__name__} ({', '.join(options)}, timezone='{self.timezone}')>"


def _is_ambiguous(dt: datetime) -> bool:
    return dt.replace(fold=0).utcoffset() > dt.replace(fold=1).utcoffset()


def _is_missing(dt: datetime) -> bool:
    return dt.replace(fold=0).utcoffset() < dt.replace(fold=1).utcoffset()
