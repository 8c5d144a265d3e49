"""The cron trigger: fire whenever the wall-clock time matches every field.

Drop-in for ``apscheduler.triggers.cron.CronTrigger`` (keyword form, same defaults and
results), with ``from_crontab`` following real (Vixie) cron instead of APScheduler's
variant. The search works on integers: each field is a sorted tuple of allowed values,
the next value comes from ``bisect``, and a field that runs out carries into the next
larger unit in one step, so finding the next time costs a handful of bisects instead of
a walk through every candidate datetime. Only the final answer becomes an aware
datetime. DST: when no UTC offset change lies between the start of the search and its
answer (every day in between keeps one offset) the wall-clock answer is exact under
every rule; otherwise the search is redone by the rule of the trigger's form (see
``walks``): the keyword form exactly as APScheduler 3.11, the crontab form exactly as
Debian/Vixie cron (cronsim 2.8). docs/cron.md spells out every rule.
"""

from __future__ import annotations

import logging
from bisect import bisect_left
from calendar import isleap, monthrange
from datetime import date, datetime, timedelta, timezone, tzinfo
from typing import Any

from tzlocal import get_localzone

from nbsched.timezones import as_timezone, datetime_repr, to_datetime, trigger_timezone
from nbsched.triggers.base import BaseTrigger, check_jitter
from nbsched.triggers.cron.crontab import parse_crontab
from nbsched.triggers.cron.description import describe_trigger
from nbsched.triggers.cron.fields import (
    DEFAULT_VALUES,
    FIELD_NAMES,
    BaseField,
    make_field,
)
from nbsched.triggers.cron.offsets import day_offset, unclean_days
from nbsched.triggers.cron.walks import (
    _carried,
    _carry,
    _month_length,
    crontab_walk,
    keyword_walk,
)

__all__ = ["CronTrigger", "get_localzone"]

logger = logging.getLogger("nbsched.triggers.cron")

_UTC = timezone.utc
_ONE_MICROSECOND = timedelta(microseconds=1)
_ONE_SECOND = timedelta(seconds=1)
_DAY_CACHE_LIMIT = 4096
# Longer searches (a schedule that fires less than once a century) are redone by the
# exact rule instead of checked year by year.
_SPAN_DAYS_LIMIT = 100 * 366
_UNKNOWN = object()


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
    _state_fields = (
        "timezone",
        "start_date",
        "end_date",
        "fields",
        "jitter",
        "day_or",
        "crontab_mode",
    )

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
        crontab_mode: str | None = None,
    ) -> None:
        if timezone or _aware(start_date) or _aware(end_date):
            tz = trigger_timezone(timezone, start_date, end_date)
        else:
            # Looked up through this module's ``get_localzone`` (as APScheduler does), so
            # code that patches ``nbsched.triggers.cron.get_localzone`` is obeyed.
            tz = as_timezone(get_localzone())
        start = to_datetime(start_date, tz, "start_date")
        end = to_datetime(end_date, tz, "end_date")
        check_jitter(jitter)

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
        #: None for the keyword form (APScheduler's DST rule); for ``from_crontab``,
        #: "fixed" (minute and hour fixed) or "elapsed" (either starts with ``*``),
        #: Debian cron's two DST behaviours.
        self._set("crontab_mode", crontab_mode)
        self._compile()

    @classmethod
    def from_crontab(
        cls,
        expr: str,
        timezone: tzinfo | str | None = None,
        *,
        start_date: datetime | date | str | None = None,
        end_date: datetime | date | str | None = None,
        jitter: float | None = None,
    ) -> CronTrigger:
        """Build a trigger from a standard 5-field crontab line, with real cron semantics.

        Unlike APScheduler 3, this follows Vixie cron (as croniter does): weekday 0 and
        7 are Sunday, and when both day-of-month and day-of-week are restricted (neither
        starts with ``*``) a day matching *either* fires. ``@yearly``, ``@annually``,
        ``@monthly``, ``@weekly``, ``@daily``, ``@midnight`` and ``@hourly`` work too.
        ``start_date``, ``end_date`` and ``jitter`` (keyword-only, an nbsched addition) mean
        what they mean in the keyword form.

        DST follows Debian/Vixie cron (as cronsim computes it), not APScheduler: a line
        with a fixed minute and hour runs at its wall-clock times, a time inside a
        spring-forward gap at the end of the gap, a repeated time once; a line whose
        minute or hour starts with ``*`` advances as elapsed time, so ``0 * * * *``
        runs every elapsed hour through both changes.
        """
        given, day_or, mode = parse_crontab(expr)
        trigger = cls.__new__(cls)
        trigger._init(given, start_date, end_date, timezone, jitter, day_or, mode)
        return trigger

    # --- compilation -------------------------------------------------------------
    def _compile(self) -> None:
        """Precompute the lookup tables the search uses (derived, not part of the state).

        For every unit, ``table[v]`` is the smallest allowed value >= ``v`` or -1; the
        tables have one extra slot past the maximum so that "previous value + 1" can be
        looked up without a range check and simply reports "carry".
        """
        by_name = {field.name: field for field in self.fields}
        years = by_name["year"].values
        if self.end_date is not None:
            # Nothing after the end date counts: the search need not look past its year.
            try:
                last_year = self.end_date.astimezone(self.timezone).year + 1
            except OverflowError:
                last_year = 9999
            years = tuple(year for year in years if year <= last_year)
        self._set("_years", years)
        self._set("_year_set", frozenset(years))
        self._set("_month_values", by_name["month"].values)
        self._set("_next_month", _next_table(by_name["month"].values, 13))
        self._set("_next_hour", _next_table(by_name["hour"].values, 24))
        self._set("_next_minute", _next_table(by_name["minute"].values, 60))
        self._set("_next_second", _next_table(by_name["second"].values, 60))
        self._set("_minute_values", by_name["minute"].values)
        day, week, weekday = by_name["day"], by_name["week"], by_name["day_of_week"]
        self._set("_day_field", day)
        self._set("_weeks", None if week.is_wildcard else frozenset(week.values))
        self._set("_weekdays", None if weekday.is_wildcard else frozenset(weekday.values))
        self._set("_constrained", self._weeks is not None or self._weekdays is not None)
        self._set("_next_week", _next_table(week.values, 54))
        self._set("_next_weekday", _next_table(weekday.values, 7))
        self._set("_day_tables", {})
        self._set("_shape_tables", {})
        self._set("_dom_tables", {})
        self._set("_plain_days", {})
        self._set("_day_offsets", {})
        self._set("_fixed_offset", _is_fixed_offset(self.timezone))
        self._set("_live_years", {})
        self._set("_live_kinds", {})

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        state.setdefault("day_or", False)
        state.setdefault("crontab_mode", None)
        super().__setstate__(state)
        self._compile()

    def _dom_table(self, year: int, month: int) -> list[int]:
        """Next-allowed-day table of the day field alone (APScheduler checks the week
        and weekday fields separately), cached (bounded) per (year, month)."""
        if self._weeks is None and self._weekdays is None and not self.day_or:
            return self._day_table_for(year, month)  # the day field alone decides
        key = year * 13 + month
        table = self._dom_tables.get(key)
        if table is None:
            length = monthrange(year, month)[1]
            field = self._day_field
            dom = {d for d in field.values if d <= length}
            for expr in field.dynamic:
                dom.update(expr.days_in(year, month))
            table = _next_table(tuple(sorted(dom)), 32)
            if len(self._dom_tables) >= _DAY_CACHE_LIMIT:
                self._dom_tables.clear()
            self._dom_tables[key] = table
        return table

    def _day_table_for(self, year: int, month: int) -> list[int]:
        return self._day_tables.get(year * 13 + month) or self._day_table(year, month)

    def _days(self, year: int, month: int) -> tuple[int, ...]:
        """Sorted days of ``year-month`` that satisfy day, week and day_of_week."""
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
        return tuple(sorted(dom))

    def _day_table(self, year: int, month: int) -> list[int]:
        """Next-allowed-day table for one month, cached (bounded) per (year, month).

        Without a week field the allowed days depend only on the month's shape (its
        first weekday and length: ``last``, ``2nd fri`` and weekdays too), so the at
        most 28 distinct tables are built once and shared between months."""
        tables = self._day_tables
        if self._weeks is None:
            shape = monthrange(year, month)
            table = self._shape_tables.get(shape)
            if table is None:
                table = self._shape_tables[shape] = _next_table(self._days(year, month), 32)
        else:
            table = _next_table(self._days(year, month), 32)
        if len(tables) >= _DAY_CACHE_LIMIT:
            tables.clear()
        tables[year * 13 + month] = table
        return table

    def _year_alive(self, year: int) -> bool:
        """Whether any day of ``year`` matches (in an allowed month). The Gregorian
        calendar repeats every 400 years (146,097 days, a whole number of weeks: same
        month lengths, weekdays and ISO weeks), and so does the answer, which is
        remembered per ``year % 400``: a schedule that never matches (``day=2,
        week=2``, ``feb 30``) is known dead after at most 400 years, not 8,000."""
        residue = year % 400
        alive = self._live_years.get(residue)
        if alive is None:
            # Within the cycle, a year's days are fixed by its first weekday, whether it
            # is a leap year, and whether the year before was (which decides if its
            # first days are ISO week 52 or 53): at most 28 kinds of year to check.
            kind = (date(year, 1, 1).weekday(), isleap(year), isleap(year - 1))
            alive = self._live_kinds.get(kind)
            if alive is None:
                alive = any(self._days(year, month) for month in self._month_values)
                self._live_kinds[kind] = alive
            self._live_years[residue] = alive
        return alive

    def _next_live_year(self, year: int) -> int | None:
        """The first allowed year from ``year`` on with a matching day, or None."""
        years = self._years
        alive = self._live_years
        for index in range(bisect_left(years, year), len(years)):
            candidate = years[index]
            known = alive.get(candidate % 400)
            if known or (known is None and self._year_alive(candidate)):
                return candidate
        return None

    def _plain_day(self, ordinal: int) -> bool:
        """True when local day ``ordinal`` keeps one UTC offset, so that no DST rule
        matters within it. Remembered per trigger (bounded) for the fast path."""
        plain = self._plain_days.get(ordinal)
        if plain is None:  # first call for this day
            days = unclean_days(self.timezone, date.fromordinal(ordinal).year)
            plain = not days or ordinal not in days
            if len(self._plain_days) >= _DAY_CACHE_LIMIT:
                self._plain_days.clear()
            self._plain_days[ordinal] = plain
        return plain

    def _day_offset(self, year: int, month: int, day: int) -> timedelta | None:
        """The UTC offset all through a local day that keeps one, else None (the
        keyword form's exact walk asks it at every carry)."""
        key = (year * 13 + month) * 32 + day
        offsets = self._day_offsets
        offset = offsets.get(key, _UNKNOWN)
        if offset is _UNKNOWN:
            offset = day_offset(self.timezone, year, date(year, month, day).toordinal())
            if len(offsets) >= _DAY_CACHE_LIMIT:
                offsets.clear()
            offsets[key] = offset
        return offset

    def _plain_span(
        self, first: int, last: int, first_year: int = 0, last_year: int = 0
    ) -> bool:
        """True when no UTC offset change lies within local days ``first``..``last``
        (ordinals; their years may be given too), so the wall-clock answer is exact
        under every DST rule."""
        if last - first > _SPAN_DAYS_LIMIT:
            return False
        tz = self.timezone
        if not first_year:
            first_year, last_year = date.fromordinal(first).year, date.fromordinal(last).year
        for year in range(first_year, last_year + 1):
            days = unclean_days(tz, year)
            if days:
                index = bisect_left(days, first)
                if index < len(days) and days[index] <= last:
                    return False
        return True

    def _next_wall(
        self, y: int, mo: int, d: int, h: int, mi: int, s: int
    ) -> tuple[int, int, int, int, int, int] | None:
        """The first matching wall-clock time at or after the given one (which may overflow).

        Inputs one past a unit's maximum (``s == 60``, ``d == 32``, ...) are fine: the
        table says "none left" and the search carries into the next larger unit.
        """
        year_set = self._year_set
        next_month, day_tables = self._next_month, self._day_tables
        next_hour, next_minute, next_second = self._next_hour, self._next_minute, self._next_second
        while True:
            if y not in year_set or (
                mo == 1 and d == 1 and not (h or mi or s) and not self._year_alive(y)
            ):
                # A new year: the first allowed one with a matching day.
                found = self._next_live_year(y if y not in year_set else y + 1)
                if found is None:
                    return None
                y, mo, d, h, mi, s = found, 1, 1, 0, 0, 0
            value = next_month[mo]
            if value < 0:
                y, mo, d, h, mi, s = y + 1, 1, 1, 0, 0, 0
                continue
            if value != mo:
                mo, d, h, mi, s = value, 1, 0, 0, 0
            table = day_tables.get(y * 13 + mo) or self._day_table(y, mo)
            value = table[d]
            if value < 0:
                d, h, mi, s = 1, 0, 0, 0
                if mo == 12:
                    y, mo = y + 1, 1
                else:
                    mo += 1
                continue
            if value != d:
                d, h, mi, s = value, 0, 0, 0
            value = next_hour[h]
            if value < 0:
                d, h, mi, s = d + 1, 0, 0, 0
                continue
            if value != h:
                h, mi, s = value, 0, 0
            value = next_minute[mi]
            if value < 0:
                h, mi, s = h + 1, 0, 0
                continue
            if value != mi:
                mi, s = value, 0
            value = next_second[s]
            if value < 0:
                mi, s = mi + 1, 0
                continue
            return y, mo, d, h, mi, value

    # --- the contract ------------------------------------------------------------
    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        tz = self.timezone
        prev = previous_fire_time
        start: datetime | None = None
        if (
            prev is not None
            and prev.tzinfo is tz
            and not prev.microsecond
            and not prev.fold
            and (now is prev or (now.tzinfo is tz and not now.fold and now >= prev))
            and (self._fixed_offset or self._plain_day(prev.toordinal()))
        ):
            # Fast path for the common call: a whole-second previous fire time in our
            # zone on a day without an offset change, and a clock at or after it. Every
            # rule then starts one second later (the search carries any overflow), with
            # no datetime arithmetic at all.
            y, mo, d = prev.year, prev.month, prev.day
            found = self._next_wall(y, mo, d, prev.hour, prev.minute, prev.second + 1)
            if found is None:
                return None
            if self._fixed_offset or (found[2] == d and found[1] == mo and found[0] == y):
                # Still on that day: exact under every rule.
                fire_time = datetime(*found, tzinfo=tz)
                end_date = self.end_date
                if (end_date is None or fire_time <= end_date) and not self.jitter:
                    return fire_time
                return self._finish(fire_time, now)
            first_day = (y, mo, d)
        else:
            start = self._search_start(prev, now)
            if start is None:
                return None
            first_day = (start.year, start.month, start.day)
            if self.crontab_mode == "fixed":
                found = self._next_wall(*self._crontab_start_wall(start))
            elif self._fixed_offset or self._plain_day(start.toordinal()):
                found = self._next_wall(*first_day, start.hour, start.minute, start.second)
                if found is not None and found[:3] == first_day:
                    return self._finish(datetime(*found, tzinfo=tz), now)
            else:
                return self._finish(self._walk(start), now)
            if found is None:
                return None

        fire_time = datetime(*found, tzinfo=tz)
        if self._fixed_offset:
            pass
        elif self.crontab_mode == "fixed":
            # Debian cron: a wall time inside a gap runs when the gap ends; a repeated
            # one once, at its first occurrence (fold=0, as built).
            if not self._plain_day(fire_time.toordinal()) and _is_missing(fire_time):
                fire_time = datetime(*self._wall_after(fire_time, _exists), tzinfo=tz)
        elif not self._plain_span(
            date(*first_day).toordinal(), fire_time.toordinal(), first_day[0], found[0]
        ):
            # An offset change lies between. The keyword form replays APScheduler's
            # search on the tables (its elapsed-time carries included); the crontab
            # form's answer stands if cron never ticks across the change. Otherwise
            # the exact walk decides.
            tried = False
            if start is None and self.crontab_mode is None and not self._constrained:
                # From the fast path: the search starts a second after ``prev``, on a
                # day that keeps one offset; most such searches carry only between
                # days of equal offset (see ``_exact_wall``), with no datetime work.
                assert prev is not None
                exact = self._exact_wall(
                    prev.year, prev.month, prev.day, prev.hour, prev.minute, prev.second + 1
                )
                if exact is None:
                    return None
                if exact is not _UNKNOWN:
                    return self._finish(datetime(*exact, tzinfo=tz), now)
                tried = True  # from the same start: the replay decides
            if start is None:
                start = self._search_start(prev, now)
                if start is None:
                    return None
            if start.fold or not self._plain_day(start.toordinal()):
                return self._finish(self._walk(start), now)
            if self.crontab_mode is not None:
                if not self._ticks_are_wall_clock(start, fire_time):
                    return self._finish(self._walk(start), now)
            else:
                values = [start.year, start.month, start.day, start.hour, start.minute,
                          start.second]
                # Most searches that cross a change carry only between days of equal
                # offset (a feb 29 search crosses eight changes, and every carry is
                # winter to winter): then APScheduler's walk is the wall-clock one.
                replayed = (
                    _UNKNOWN if tried or self._constrained else self._exact_wall(*values)
                )
                if replayed is _UNKNOWN:
                    replayed = self._replay(values)
                if replayed is _UNKNOWN:
                    return self._finish(self._walk(start), now)
                if replayed is None:
                    return None
                found = replayed
                fire_time = datetime(*found, tzinfo=tz)
            if self._day_offset(*found[:3]) is None:
                fire_time = _real(fire_time)
        return self._finish(fire_time, now)

    def _ticks_are_wall_clock(self, start: datetime, answer: datetime) -> bool:
        """Whether Debian cron's search for a line with a wildcard minute or hour, from
        ``start`` (a plain day) to the wall-clock ``answer``, ticks only on days that keep
        one offset: it advances hour, minute and second as elapsed time only on days
        whose date matches (day and month moves go to wall-clock midnights), so no such
        day may hold an offset change."""
        first, last = start.toordinal(), answer.toordinal()
        tz = self.timezone
        for year in range(start.year, answer.year + 1):
            for ordinal in unclean_days(tz, year):
                if first <= ordinal <= last:
                    day = date.fromordinal(ordinal)
                    if (
                        self._next_month[day.month] == day.month
                        and self._day_table_for(day.year, day.month)[day.day] == day.day
                    ):
                        return False
        return True

    def _replay(self, values: list[int]) -> Any:
        """APScheduler's search from ``values`` (a wall time on a day that keeps one
        offset), on the lookup tables: its answer as integers, None for none, or
        ``_UNKNOWN`` when only the full walk can tell.

        The tables reproduce APScheduler's sets and carries; a carry that starts and
        lands at the same offset is wall-clock, one that does not is applied as elapsed
        time (``walks._carry``) and the replay goes on from where it lands, if that is a
        plain day. Day-by-day stepping for the week and weekday fields is taken as wall
        clock only where no day on the way holds an offset change.
        """
        years, year_set = self._years, self._year_set
        next_month, next_hour = self._next_month, self._next_hour
        next_minute, next_second = self._next_minute, self._next_second
        constrained = self._weeks is not None or self._weekdays is not None
        carry = self._replay_carry
        for _ in range(100_000):
            y, mo, d, h, mi, s = values
            if y not in year_set:
                index = bisect_left(years, y)
                if index == len(years):
                    return None
                values = [years[index], 1, 1, 0, 0, 0]
                continue
            value = next_month[mo]
            if value < 0:
                values = carry(values, 0)
                if values is None or values is _UNKNOWN:
                    return values
                continue
            if value != mo:
                values = [y, value, 1, 0, 0, 0]
                continue
            value = self._day_table_for(y, mo)[d]
            if value < 0 or value != d:
                if constrained:
                    # APScheduler steps day by day here: no offset change may lie on the way.
                    last = _month_length(y, mo) if value < 0 else value
                    first_ordinal = date(y, mo, d).toordinal()
                    if not self._plain_span(first_ordinal, first_ordinal + last - d):
                        return _UNKNOWN
                if value < 0:
                    values = carry(values, 1)
                    if values is None or values is _UNKNOWN:
                        return values
                else:
                    values = [y, mo, value, 0, 0, 0]
                continue
            value = next_hour[h]
            if value < 0:
                values = carry(values, 2)
                if values is None or values is _UNKNOWN:
                    return values
                continue
            if value != h:
                h, mi, s = value, 0, 0
            value = next_minute[mi]
            if value < 0:
                values = carry([y, mo, d, h, mi, s], 5)
                if values is None or values is _UNKNOWN:
                    return values
                continue
            if value != mi:
                mi, s = value, 0
            value = next_second[s]
            if value < 0:
                values = carry([y, mo, d, h, mi, s], 6)
                if values is None or values is _UNKNOWN:
                    return values
                continue
            return [y, mo, d, h, mi, value]
        return _UNKNOWN

    def _exact_wall(self, y: int, mo: int, d: int, h: int, mi: int, s: int) -> Any:
        """The wall-clock search from a wall time on a day that keeps one offset, as long
        as it is provably APScheduler's: every carry it makes starts and lands at the
        same UTC offset (so elapsed and wall-clock time agree) and every day it looks
        at hours on keeps one offset. Returns the answer as integers, None for none, or
        ``_UNKNOWN`` at the first carry that cannot be shown exact (``_replay`` then
        decides). Only for schedules without week/weekday fields (APScheduler steps
        those day by day)."""
        years, year_set = self._years, self._year_set
        next_month, next_hour = self._next_month, self._next_hour
        next_minute, next_second = self._next_minute, self._next_second
        day_tables, offsets, day_offset = self._day_tables, self._day_offsets, self._day_offset
        for _ in range(100_000):
            if y not in year_set:  # APScheduler sets the year: wall clock
                index = bisect_left(years, y)
                if index == len(years):
                    return None
                y, mo, d, h, mi, s = years[index], 1, 1, 0, 0, 0
            value = next_month[mo]
            if value < 0:  # carry into the year
                ty, tmo, td = y + 1, 1, 1
            elif value != mo:
                mo, d, h, mi, s = value, 1, 0, 0, 0
                continue
            else:
                table = day_tables.get(y * 13 + mo) or self._day_table(y, mo)
                value = table[d]
                if value < 0:  # carry into the month
                    ty, tmo, td = (y + 1, 1, 1) if mo == 12 else (y, mo + 1, 1)
                elif value != d:
                    d, h, mi, s = value, 0, 0, 0
                    continue
                else:
                    here = offsets.get((y * 13 + mo) * 32 + d, _UNKNOWN)
                    if here is _UNKNOWN:
                        here = day_offset(y, mo, d)
                    if here is None:
                        return _UNKNOWN  # hours on a day with a change: replay
                    value = next_hour[h]
                    if value >= 0:
                        if value != h:
                            h, mi, s = value, 0, 0
                        value = next_minute[mi]
                        if value < 0:
                            h, mi, s = h + 1, 0, 0
                            continue
                        if value != mi:
                            mi, s = value, 0
                        value = next_second[s]
                        if value < 0:
                            mi, s = mi + 1, 0
                            continue
                        return [y, mo, d, h, mi, value]
                    # carry into the day
                    if d < _month_length(y, mo):
                        ty, tmo, td = y, mo, d + 1
                    elif mo < 12:
                        ty, tmo, td = y, mo + 1, 1
                    else:
                        ty, tmo, td = y + 1, 1, 1
            if ty > 9999:
                return None
            # The carry from (y, mo, d) to midnight of (ty, tmo, td): exact when both
            # days keep one offset and it is the same one.
            here = offsets.get((y * 13 + mo) * 32 + d, _UNKNOWN)
            if here is _UNKNOWN:
                here = day_offset(y, mo, d)
            there = offsets.get((ty * 13 + tmo) * 32 + td, _UNKNOWN)
            if there is _UNKNOWN:
                there = day_offset(ty, tmo, td)
            if here is None or there is None or here != there:
                return _UNKNOWN
            y, mo, d, h, mi, s = ty, tmo, td, 0, 0, 0
        return _UNKNOWN

    def _replay_carry(self, values: list[int], field: int) -> Any:
        """Where APScheduler's carry into ``field`` from ``values`` lands (see
        ``_replay``): integers, None (nothing follows) or ``_UNKNOWN``."""
        target, _ = _carried(values, field)
        if target is None:
            return None
        there = self._day_offset(*target[:3])
        if there is not None:
            if target[:3] == values[:3]:
                return target
            here = self._day_offset(*values[:3])
            if here is None:
                here = self.timezone.utcoffset(datetime(*values, tzinfo=self.timezone))
            if here == there:
                return target
        # Elapsed time: the wall-clock difference added in UTC, as APScheduler does.
        current = datetime(*values, tzinfo=self.timezone)
        end_date = self.end_date
        if end_date is not None and current > end_date:
            return None
        moved, _ = _carry(self, current, field)
        if moved is None or (end_date is not None and moved > end_date):
            return None
        if moved.fold or self._day_offset(moved.year, moved.month, moved.day) is None:
            return _UNKNOWN
        return [moved.year, moved.month, moved.day, moved.hour, moved.minute, moved.second]

    def _walk(self, start: datetime) -> datetime | None:
        """The exact search by this trigger's DST rule (see ``walks``), as a real time."""
        # Any answer is a matching wall time no earlier than a day before ``start``'s
        # reading (a fall-back shift is hours): when the table search finds none from
        # there, neither rule can, and the walk (which steps month by month) is spared.
        if start.year > 1 and self._next_wall(
            *(start - timedelta(days=1)).timetuple()[:6]
        ) is None:
            return None
        if self.crontab_mode is None:
            fire_time = keyword_walk(self, start)
        else:
            fire_time = crontab_walk(self, start)
        if fire_time is None or (
            not fire_time.fold
            and self._day_offset(fire_time.year, fire_time.month, fire_time.day) is not None
        ):
            return fire_time  # on a day that keeps one offset: real already
        return _real(fire_time)

    def _finish(self, fire_time: datetime | None, now: datetime) -> datetime | None:
        """Apply the end date and jitter (APScheduler's order) to a found fire time."""
        if fire_time is None:
            return None
        end_date = self.end_date
        if end_date is not None and fire_time > end_date:
            return None
        if self.jitter:
            fire_time = self._apply_jitter(fire_time, self.jitter, now)
            if end_date is not None and fire_time > end_date:
                return end_date
        return fire_time

    def _search_start(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        """Where the search starts, by APScheduler's rules: right after the previous fire
        time (or from ``now`` if the clock is behind it), else from ``now`` or the start
        date, rounded up to a whole second, in the trigger's zone. For the keyword form
        this is exactly APScheduler's starting point (fold and all); the crontab form
        takes the real wall time of that instant. None past year 9999."""
        tz = self.timezone
        try:
            if previous_fire_time is not None:
                after = previous_fire_time.astimezone(_UTC) + _ONE_MICROSECOND
                clock = now.astimezone(_UTC)
                start = (clock if clock < after else after).astimezone(tz)
                if start == previous_fire_time:
                    start = (start.astimezone(_UTC) + _ONE_MICROSECOND).astimezone(tz)
            elif self.start_date is not None:
                clock = now.astimezone(_UTC)
                first = self.start_date.astimezone(_UTC)
                start = (first if clock < first else clock).astimezone(tz)
            else:
                start = now
            if start.microsecond:
                step = timedelta(seconds=1, microseconds=-start.microsecond)
                start = (start.astimezone(_UTC) + step).astimezone(start.tzinfo)
            start = start.astimezone(tz)
        except OverflowError:
            return None  # past year 9999: nothing can follow
        if self.crontab_mode is not None:
            start = _real(start)
        return start

    def _crontab_start_wall(self, start: datetime) -> tuple[int, int, int, int, int, int]:
        """Wall time a fixed-time crontab search starts from.

        Cron counts wall-clock seconds: the search starts one wall-clock second after
        the reading one second before ``start``, which is ``start``'s own reading except
        right at the end of a gap, where it is the start of the gap (so the times in
        the gap, due at its end, are still ahead). In the second pass of a repeated hour
        its wall times already ran (cron runs them once, in the first pass), so the
        search resumes where the repetition ends.
        """
        if self._fixed_offset:
            return (start.year, start.month, start.day, start.hour, start.minute, start.second)
        if start.fold and _is_ambiguous(start):
            return self._wall_after(start, _unambiguous)
        try:
            before = (start.astimezone(_UTC) - _ONE_SECOND).astimezone(self.timezone)
        except OverflowError:
            before = start - _ONE_SECOND
        wall = before.replace(tzinfo=None, fold=0) + _ONE_SECOND
        return (wall.year, wall.month, wall.day, wall.hour, wall.minute, wall.second)

    @staticmethod
    def _wall_after(moment: datetime, done: Any) -> tuple[int, int, int, int, int, int]:
        """First wall time from ``moment`` on (within one DST shift) for which ``done``
        holds. Binary search over whole seconds; the predicate flips once in the shift."""
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


def _next_table(values: tuple[int, ...], maximum: int) -> list[int]:
    """``table[v]`` = smallest of ``values`` (sorted) >= v, or -1; valid for v in 0..maximum."""
    table = [-1] * (maximum + 1)
    start = 0
    for value in values:
        if value > maximum:
            break
        if value >= start:
            table[start : value + 1] = [value] * (value + 1 - start)
            start = value + 1
    return table


def _is_fixed_offset(tz: tzinfo) -> bool:
    """True for zones that never change offset (UTC, ``timezone(timedelta(...))``)."""
    return isinstance(tz, timezone)


def _aware(value: Any) -> bool:
    return isinstance(value, datetime) and value.tzinfo is not None


def _is_ambiguous(dt: datetime) -> bool:
    return dt.replace(fold=0).utcoffset() > dt.replace(fold=1).utcoffset()


def _is_missing(dt: datetime) -> bool:
    return dt.replace(fold=0).utcoffset() < dt.replace(fold=1).utcoffset()


def _exists(dt: datetime) -> bool:
    return not _is_missing(dt)


def _unambiguous(dt: datetime) -> bool:
    return not _is_ambiguous(dt)


def _real(dt: datetime) -> datetime:
    """The real wall time of ``dt``'s instant (``dt`` itself unless it lies in a gap)."""
    if dt.tzinfo is None or not _is_missing(dt):
        return dt
    return dt.astimezone(_UTC).astimezone(dt.tzinfo)
