"""The calendar-interval trigger: every n years/months/weeks/days, at a fixed wall time.

Drop-in for ``apscheduler.triggers.calendarinterval.CalendarIntervalTrigger``. Unlike
the interval trigger it counts calendar units, so "every day at 09:00" stays at 09:00
on the wall clock across DST changes. The rules, as in APScheduler 3.11:

* From a date, the years and months are added first, keeping the day of the month;
  a date that does not exist (January 31 + 1 month) is skipped by adding the months
  again (to March 31). Then weeks and days are added.
* The fire time is that date at ``hour:minute:second`` in the trigger's zone. If that
  wall time does not exist (a spring-forward gap), the date is skipped; if it happens
  twice (fall back), the first occurrence is used.

* Asked without a previous fire time (a new job), the answer is ``start_date`` at the
  time of day (or the first date after it whose time exists), even when that is in the
  past -- APScheduler's behaviour; the scheduler's misfire policy handles lateness.

docs/triggers.md lists the few deliberate differences (stricter argument checks, and
jitter that pushes a run past midnight does not skip the next day).
"""

from __future__ import annotations

from calendar import month_name
from datetime import MAXYEAR, date, datetime, time, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from tzlocal import get_localzone

from nbsched.timezones import as_timezone, timezone_name, usable_local_zone
from nbsched.triggers.base import BaseTrigger, check_jitter

__all__ = ["CalendarIntervalTrigger"]

_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_TIME_LIMITS = {"hour": 23, "minute": 59, "second": 59}
#: The most days a timedelta holds (the weeks and days of the interval are one).
_MAX_DAYS = timedelta.max.days


class CalendarIntervalTrigger(BaseTrigger):
    """Fire every ``years``/``months``/``weeks``/``days`` at ``hour:minute:second``.

    ``start_date`` (a date or ``YYYY-MM-DD``; default today in ``timezone``) is the
    first date of the schedule and ``end_date`` (inclusive) the last possible one.
    ``timezone`` (tzinfo or IANA name) defaults to the machine's local zone. ``jitter``
    delays each run by a random 0..``jitter`` seconds. Arguments are keyword-only, as
    in APScheduler.
    """

    __slots__ = (
        "_day_step",
        "_month_step",
        "_time",
        "_wall",
        "days",
        "end_date",
        "hour",
        "jitter",
        "minute",
        "months",
        "second",
        "start_date",
        "timezone",
        "weeks",
        "years",
    )
    _state_version = 1
    _state_fields = (
        "timezone",
        "years",
        "months",
        "weeks",
        "days",
        "hour",
        "minute",
        "second",
        "start_date",
        "end_date",
        "jitter",
    )

    def __init__(
        self,
        *,
        years: int = 0,
        months: int = 0,
        weeks: int = 0,
        days: int = 0,
        hour: int = 0,
        minute: int = 0,
        second: int = 0,
        start_date: date | str | None = None,
        end_date: date | str | None = None,
        timezone: str | tzinfo | None = None,
        jitter: float | None = None,
    ) -> None:
        tz = as_timezone(timezone) if timezone else usable_local_zone(get_localzone())
        counts = {"years": years, "months": months, "weeks": weeks, "days": days}
        for name, value in counts.items():
            _check_int(name, value)
            if value < 0:
                raise ValueError(f"{name}: {value!r}: must not be negative")
        if not any(counts.values()):
            raise ValueError(
                "years/months/weeks/days: all zero: the interval must be at least 1 day long"
            )
        if weeks * 7 + days > _MAX_DAYS:
            if weeks * 7 > _MAX_DAYS:
                culprit = f"weeks: {weeks!r}"
            elif days > _MAX_DAYS:
                culprit = f"days: {days!r}"
            else:
                culprit = f"weeks={weeks!r}, days={days!r}"
            raise ValueError(
                f"{culprit}: interval too long (weeks and days: at most {_MAX_DAYS:,} days "
                "in all)"
            )
        clock = {"hour": hour, "minute": minute, "second": second}
        for name, value in clock.items():
            _check_int(name, value)
            if not 0 <= value <= _TIME_LIMITS[name]:
                raise ValueError(f"{name}: {value!r}: must be 0-{_TIME_LIMITS[name]}")
        check_jitter(jitter)
        start = _as_date(start_date, tz, "start_date") or datetime.now(tz).date()
        end = _as_date(end_date, tz, "end_date")
        if end is not None and end < start:
            raise ValueError(
                f"end_date: '{end}': end_date cannot be earlier than start_date '{start}'"
            )

        self._set("timezone", tz)
        for name, value in {**counts, **clock}.items():
            self._set(name, value)
        self._set("start_date", start)
        self._set("end_date", end)
        self._set("jitter", jitter)
        self._derive()

    def _derive(self) -> None:
        self._set("_time", time(self.hour, self.minute, self.second, tzinfo=self.timezone))
        self._set("_wall", time(self.hour, self.minute, self.second))
        self._set("_month_step", self.years * 12 + self.months)
        self._set("_day_step", timedelta(days=self.weeks * 7 + self.days))

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._derive()

    # --- the contract ------------------------------------------------------------
    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        # As APScheduler 3.11: without a previous fire time the schedule starts at
        # start_date, even when that is long past (the scheduler's misfire and coalesce
        # policy decides what a late first run means); with one, it continues from the
        # previous fire time's date. ``now`` only feeds the jitter.
        try:
            if previous_fire_time is not None:
                previous = previous_fire_time.astimezone(self.timezone)
                base = previous.date()
                if self.jitter and previous.time() < self._wall:
                    # The previous run was delayed past midnight by jitter; it belongs
                    # to the day before.
                    base -= timedelta(days=1)
                candidate = self._advance(base)
            else:
                candidate = self.start_date
            while candidate is not None:
                if self.end_date is not None and candidate > self.end_date:
                    return None
                fire_time = self._fire_time_on(candidate)
                if fire_time is not None:
                    return self._apply_jitter(fire_time, self.jitter, now)
                candidate = self._advance(candidate)  # the time does not exist that day
        except OverflowError:
            pass  # ran past year 9999
        return None

    def _advance(self, day: date) -> date | None:
        """The next date of the schedule after ``day`` (None past year 9999)."""
        if self._month_step:
            year, month = day.year, day.month
            while True:
                month += self.months
                year += self.years + (month - 1) // 12
                month = (month - 1) % 12 + 1
                if year > MAXYEAR:
                    return None
                try:
                    day = day.replace(year=year, month=month)
                    break
                except ValueError:
                    continue  # that month has no such day: add the months again
        return day + self._day_step

    def _first_at_or_after(self, now: datetime) -> datetime | None:
        """The first fire time (without jitter) not before ``now``, found without walking
        every step from a long-past ``start_date``. ``preview`` and ``AndTrigger`` use it;
        the scheduler's first call gets ``start_date`` instead (see above)."""
        target = now.astimezone(self.timezone)
        instant = now.astimezone(timezone.utc)
        try:
            candidate = self._near(target.date())
            while candidate is not None:
                if self.end_date is not None and candidate > self.end_date:
                    return None
                fire_time = self._fire_time_on(candidate)
                if fire_time is not None and fire_time.astimezone(timezone.utc) >= instant:
                    return fire_time
                candidate = self._advance(candidate)
        except OverflowError:
            pass
        return None

    def _near(self, target: date) -> date | None:
        """A date of the schedule on or before ``target`` (or ``start_date``), found
        without walking every step from a long-past ``start_date``."""
        start = self.start_date
        if target <= start:
            return start
        month_step, day_step = self._month_step, self._day_step.days
        if not month_step:
            return start + timedelta(days=(target - start).days // day_step * day_step)
        if not day_step:
            elapsed = (target.year - start.year) * 12 + target.month - start.month
            index = max(0, elapsed // month_step - 1)
            while True:  # the grid point at ``index`` may not exist: try the next ones
                months = start.month - 1 + index * month_step
                year = start.year + months // 12
                if year > MAXYEAR:
                    return None
                try:
                    return start.replace(year=year, month=months % 12 + 1)
                except ValueError:
                    index += 1
        day: date | None = start
        while day is not None:
            following = self._advance(day)
            if following is None or following > target:
                return day
            day = following
        return None  # pragma: no cover - the loop always returns

    def _fire_time_on(self, day: date) -> datetime | None:
        """``day`` at the trigger's time of day, or None if that wall time does not exist."""
        fire_time = datetime.combine(day, self._wall, tzinfo=self.timezone)
        if fire_time.utcoffset() < fire_time.replace(fold=1).utcoffset():
            return None  # inside a spring-forward gap
        return fire_time

    # --- display -----------------------------------------------------------------
    def describe(self) -> str:
        units = [
            (self.years, "year"),
            (self.months, "month"),
            (self.weeks, "week"),
            (self.days, "day"),
        ]
        given = [(n, unit) for n, unit in units if n]
        single = len(given) == 1 and given[0][0] == 1
        if single:
            text = f"every {given[0][1]}"
        else:
            counts = [f"{n} {unit}" + ("s" if n != 1 else "") for n, unit in given]
            text = "every " + (
                counts[0] if len(counts) == 1 else f"{', '.join(counts[:-1])} and {counts[-1]}"
            )
        start = self.start_date
        if self._month_step and not self._day_step:
            if self.months:
                text += f" on day {start.day}"
            else:
                text += f" on {month_name[start.month]} {start.day}"
        elif self.weeks and not (self.days or self._month_step):
            text += f" on {_WEEKDAYS[start.weekday()]}"
        text += f" at {self.hour:02d}:{self.minute:02d}"
        if self.second:
            text += f":{self.second:02d}"
        text += f" ({timezone_name(self.timezone)})"
        if not single:
            text += f", starting {start}"
        if self.end_date is not None:
            text += f", until {self.end_date}"
        if self.jitter:
            text += f", delayed by up to {self.jitter} s"
        return text

    def __repr__(self) -> str:
        fields = [
            f"{name}={getattr(self, name)}"
            for name in ("years", "months", "weeks", "days")
            if getattr(self, name) > 0
        ]
        fields.append(f"time={self._time.isoformat()!r}")
        fields.append(f"start_date='{self.start_date}'")
        if self.end_date:
            fields.append(f"end_date='{self.end_date}'")
        fields.append(f"timezone={_zone_repr(self.timezone)!r}")
        if self.jitter:
            fields.append(f"jitter={self.jitter}")
        return f"{type(self).__name__}({', '.join(fields)})"

    __str__ = __repr__  # APScheduler prints this trigger the same both ways


def _check_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name}: {value!r}: expected a whole number")


def _as_date(value: date | str | None, tz: tzinfo, arg_name: str) -> date | None:
    """A date from a date, a datetime (its date in ``tz`` if aware) or ``YYYY-MM-DD``."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return (value.astimezone(tz) if value.tzinfo else value).date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"{arg_name}: {value!r}: not a date (YYYY-MM-DD)") from None
    raise TypeError(f"{arg_name}: unsupported type {type(value).__name__}")


def _zone_repr(tz: tzinfo) -> str:
    if isinstance(tz, ZoneInfo):
        return tz.key
    if tz is timezone.utc:
        return "UTC"
    return str(tz)
