"""The interval trigger: fire every fixed amount of elapsed time.

Drop-in for ``apscheduler.triggers.interval.IntervalTrigger``: same arguments, same
defaults, same fire times. The schedule is a grid ``start_date + k * interval`` measured
in elapsed (UTC) time, so "every 24 hours" moves by an hour on the wall clock across a
DST change -- use the calendar-interval or cron trigger for wall-clock schedules.

All arithmetic is done on integer microseconds rather than float timestamps, which
makes the grid exact and lets ``fire_times_through`` count a backlog in O(1). Jitter is
elapsed time too, so a jittered fire time on a fall-back night keeps its ``fold``.

The current time (default ``start_date``) is read through this module's ``datetime`` and
the local zone through its ``get_localzone``, the names APScheduler's tests patch.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone, tzinfo
from numbers import Real
from typing import Any

from tzlocal import get_localzone

from nbsched.timezones import (
    datetime_repr,
    real_wall_time,
    to_datetime,
    trigger_timezone,
)
from nbsched.triggers.base import BaseTrigger, _finite, check_jitter

__all__ = ["IntervalTrigger"]

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)
_UNIT_SECONDS = (("week", 604800), ("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))


def _micros(value: datetime) -> int:
    """Microseconds since the epoch of an aware datetime (exact, unlike ``timestamp()``)."""
    return (value - _EPOCH) // _MICROSECOND


#: ``(interval, step in microseconds, length in seconds)`` per whole number of seconds, shared
#: by all triggers with that interval: the common intervals cost no allocation per job.
_WHOLE_SECONDS: dict[int, tuple[timedelta, int, float]] = {}


def _whole_seconds(total: int) -> tuple[timedelta, int, float]:
    if not total:
        total = 1  # APScheduler: all zero means every second
    parts = (timedelta(0, total), total * 1_000_000, float(total))
    if len(_WHOLE_SECONDS) < 1024:
        _WHOLE_SECONDS[total] = parts
    return parts


#: The longest interval a timedelta holds: 999,999,999 days, in seconds.
_MAX_SECONDS = timedelta.max // timedelta(seconds=1)
_UNIT_NAMES = ("weeks", "days", "hours", "minutes", "seconds")
_UNIT_SIZES = (604800, 86400, 3600, 60, 1)


def _given_units(values: tuple[Any, ...]) -> str:
    """``weeks=2, days=1``: the non-zero units, for a message about the whole interval."""
    given = [f"{name}={value!r}" for name, value in zip(_UNIT_NAMES, values) if value]
    return ", ".join(given) or ", ".join(f"{name}=0" for name in _UNIT_NAMES)


def _interval_from_units(
    weeks: Any, days: Any, hours: Any, minutes: Any, seconds: Any
) -> timedelta:
    """The general (float, Decimal, ...) path of the constructor: checked, then summed.

    Every error is a TypeError/ValueError naming the unit: not a number, negative,
    infinite or NaN, or an interval longer than a timedelta holds (999,999,999 days).
    """
    values = (weeks, days, hours, minutes, seconds)
    total = 0.0
    for name, value, size in zip(_UNIT_NAMES, values, _UNIT_SIZES):
        if isinstance(value, bool) or not isinstance(value, Real):
            raise TypeError(f"{name}: {value!r}: expected a number")
        if not _finite(value):
            raise ValueError(f"{name}: {value!r}: must be a finite number")
        if value < 0:
            raise ValueError(f"{name}: {value!r}: interval must be positive")
        length = value * size
        if length > _MAX_SECONDS:
            raise ValueError(
                f"{name}: {value!r}: interval too long (at most {_MAX_SECONDS // 86400:,} days)"
            )
        total += length
    if total > _MAX_SECONDS:
        raise ValueError(
            f"{_given_units(values)}: interval too long "
            f"(at most {_MAX_SECONDS // 86400:,} days in all)"
        )
    try:
        interval = timedelta(
            days=days, seconds=seconds, minutes=minutes, hours=hours, weeks=weeks
        )
    except OverflowError:  # at the very edge of the range, after rounding
        raise ValueError(
            f"{_given_units(values)}: interval too long "
            f"(at most {_MAX_SECONDS // 86400:,} days in all)"
        ) from None
    if interval < _MICROSECOND:
        if any(values):
            raise ValueError(
                f"{_given_units(values)}: interval must be at least one microsecond"
            )
        interval = timedelta(seconds=1)  # APScheduler: all zero means every second
    return interval


class IntervalTrigger(BaseTrigger):
    """Fire every ``weeks + days + hours + minutes + seconds`` of elapsed time.

    The first fire time is ``start_date`` (default: construction time + interval); later
    ones follow on the grid ``start_date + k * interval``. When the scheduler asks
    without a previous fire time (a new or resumed job), the answer is the first grid
    point at or after ``now``. ``end_date`` (inclusive) ends the schedule. All units
    zero means one second (APScheduler's rule); a negative unit is an error.
    ``timezone`` defaults to the zone of ``start_date``, then ``end_date``, then the
    machine's local zone; it is the zone of the returned datetimes. ``jitter`` delays
    each run by a random 0..``jitter`` seconds without shifting the grid.
    """

    __slots__ = (
        "_end",
        "_start",
        "_start_is_local",
        "_step",
        "end_date",
        "interval",
        "interval_length",
        "jitter",
        "start_date",
        "timezone",
    )
    _state_version = 1
    _state_fields = ("timezone", "start_date", "end_date", "interval", "jitter")

    def __init__(
        self,
        weeks: float = 0,
        days: float = 0,
        hours: float = 0,
        minutes: float = 0,
        seconds: float = 0,
        start_date: datetime | date | str | None = None,
        end_date: datetime | date | str | None = None,
        timezone: tzinfo | str | None = None,
        jitter: float | None = None,
    ) -> None:
        # Building triggers is on the add_job hot path (100k jobs in a loop), so the common
        # shapes -- whole-number units, no dates, default zone -- take exact-type fast paths.
        # ``type(x) is int`` also keeps bool out (bool is an int subclass, not a duration).
        if (
            type(weeks) is int and type(days) is int and type(hours) is int
            and type(minutes) is int and type(seconds) is int
            and weeks >= 0 and days >= 0 and hours >= 0 and minutes >= 0 and seconds >= 0
        ):
            total = weeks * 604800 + days * 86400 + hours * 3600 + minutes * 60 + seconds
            try:
                interval, step, length = _WHOLE_SECONDS[total]
            except KeyError:
                if total > _MAX_SECONDS:
                    _interval_from_units(weeks, days, hours, minutes, seconds)  # raises
                interval, step, length = _whole_seconds(total)
        else:
            interval = _interval_from_units(weeks, days, hours, minutes, seconds)
            step = interval // _MICROSECOND
            length = interval.total_seconds()
        if jitter is not None:
            check_jitter(jitter)

        tz = trigger_timezone(timezone, start_date, end_date, get_localzone)
        if start_date is None:
            try:
                start = datetime.now(tz) + interval
            except OverflowError:
                units = _given_units((weeks, days, hours, minutes, seconds))
                raise ValueError(
                    f"{units}: interval too long: the first run (now + interval) would be "
                    "after year 9999; give a start_date"
                ) from None
        else:
            start = real_wall_time(to_datetime(start_date, tz, "start_date"))
        if end_date is None:
            end = end_micros = None
        else:
            end = real_wall_time(to_datetime(end_date, tz, "end_date"))
            end_micros = _micros(end)

        setattr_ = object.__setattr__
        setattr_(self, "timezone", tz)
        setattr_(self, "start_date", start)
        setattr_(self, "end_date", end)
        setattr_(self, "interval", interval)
        setattr_(self, "jitter", jitter)
        setattr_(self, "interval_length", length)
        setattr_(self, "_step", step)
        setattr_(self, "_start", _micros(start))
        setattr_(self, "_end", end_micros)
        setattr_(self, "_start_is_local", start.tzinfo is tz)

    def _derive(self) -> None:
        """Cache the integer forms the arithmetic uses (derived, not pickled)."""
        self._set("interval_length", self.interval.total_seconds())
        self._set("_step", self.interval // _MICROSECOND)
        self._set("_start", _micros(self.start_date))
        self._set("_end", None if self.end_date is None else _micros(self.end_date))
        # start_date is already a fire time in the trigger's zone (saves one conversion).
        self._set("_start_is_local", self.start_date.tzinfo is self.timezone)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._derive()

    def _state_values(self) -> tuple:
        # Dates by instant (and zone): == ignores ``fold`` within one tzinfo.
        return (
            self.timezone,
            self._start,
            self.start_date.tzinfo,
            self._end,
            None if self.end_date is None else self.end_date.tzinfo,
            self.interval,
            self.jitter,
        )

    def _at(self, micros: int) -> datetime:
        return (_EPOCH + timedelta(microseconds=micros)).astimezone(self.timezone)

    # --- the contract ------------------------------------------------------------
    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        step, start = self._step, self._start
        if previous_fire_time is not None:
            previous = _micros(previous_fire_time)
            if self.jitter:
                # The previous run was delayed by jitter: continue on the grid instead of
                # from the delayed time, so the delays never add up.
                next_time = start + ((previous - start) // step + 1) * step
            else:
                next_time = previous + step
        else:
            # The first grid point at or after now (start itself while now is before it).
            behind = max(0, _micros(now) - start)
            next_time = start + -(-behind // step) * step
        if self._end is not None and next_time > self._end:
            return None
        if next_time == start and self._start_is_local:
            fire_time = self.start_date  # a new job's first run: no conversion needed
        else:
            try:
                fire_time = self._at(next_time)
            except OverflowError:
                return None  # past year 9999: nothing can follow
        if self.jitter:
            fire_time = self._apply_jitter(fire_time, self.jitter, now)
            if self._end is not None and _micros(fire_time) > self._end:
                fire_time = self._at(self._end)
        return fire_time

    def fire_times_through(
        self, first: datetime, now: datetime, keep: int
    ) -> tuple[list[datetime], int]:
        """The backlog from ``first`` to ``now`` in O(``keep``), however long it is.

        Same answer as the generic walk: ``first``, ``first + interval``, ... up to
        ``now`` and ``end_date``, whichever comes first (``first`` itself always counts).
        """
        if keep < 1:
            raise ValueError(f"keep: {keep!r}: must be at least 1")
        origin, limit = _micros(first), _micros(now)
        if origin > limit:
            return [], 0
        if self._end is not None and self._end < limit:
            limit = max(self._end, origin)
        step = self._step
        total = (limit - origin) // step + 1
        first_kept = max(0, total - keep)
        latest = [self._at(origin + k * step) for k in range(first_kept, total)]
        return latest, total

    # --- display -----------------------------------------------------------------
    def describe(self) -> str:
        text = f"every {describe_duration(self.interval)}"
        if self.end_date is not None:
            text += f" until {self.end_date:%Y-%m-%d %H:%M:%S}"
        if self.jitter:
            text += f", delayed by up to {self.jitter} s"
        return text

    def __str__(self) -> str:
        return f"interval[{self.interval!s}]"

    def __repr__(self) -> str:
        options = [
            f"interval={self.interval!r}",
            f"start_date={datetime_repr(self.start_date)!r}",
        ]
        if self.end_date:
            options.append(f"end_date={datetime_repr(self.end_date)!r}")
        if self.jitter:
            options.append(f"jitter={self.jitter}")
        return f"<{type(self).__name__} ({', '.join(options)}, timezone='{self.timezone}')>"


def _count(n: int, unit: str) -> str:
    return f"{n} {unit}" + ("" if n == 1 else "s")


def describe_duration(interval: timedelta) -> str:
    """'10 minutes', '90 minutes', '2 hours and 30 minutes', '1.5 seconds', 'day'.

    The largest unit that divides the interval exactly is used when the count stays
    readable (under 100); otherwise the interval is spelled out unit by unit.
    """
    if interval.microseconds:
        return f"{interval.total_seconds():g} seconds"
    total = int(interval.total_seconds())
    for unit, size in _UNIT_SECONDS:
        if total % size == 0 and total // size < 100:
            return unit if total == size else _count(total // size, unit)
    parts = []
    for unit, size in _UNIT_SECONDS:
        if total >= size:
            parts.append(_count(total // size, unit))
            total %= size
    if len(parts) == 1:
        return parts[0]
    return f"{', '.join(parts[:-1])} and {parts[-1]}"
