"""The two DST-exact searches the cron trigger falls back on near a UTC offset change.

Away from DST changes every cron rule agrees: the next fire time is the first matching
wall-clock time, which the trigger finds with its lookup tables. Near a change the
rules differ, and each form of the trigger follows its reference exactly:

* The keyword form follows APScheduler 3.11 (``keyword_walk``). It walks the fields
  from year down to second; a field that needs a larger value either *sets* it (the
  wall-clock fields below restart at their minimum, the fold is kept) or, when the
  value runs out or a weekday/week field disagrees, *carries* one unit into the next
  larger field, and a carry is applied as elapsed time: the wall-clock difference is
  added in UTC. That is what makes a daily 02:30 job run at 03:30 on the
  spring-forward day, an every-30-minutes job fire in both passes of a repeated hour,
  and also what occasionally costs a day (a carry that crosses the gap lands an hour
  late). docs/cron.md lists the consequences.

* The crontab form with a wildcard minute or hour follows Debian/Vixie cron as
  cronsim 2.8 computes it (``crontab_walk``): the hour, minute and second advance as
  elapsed time (so an hourly job runs every elapsed hour through both changes) while
  the day and month advance to wall-clock midnights. (A crontab line with a fixed
  minute and hour needs no walk: it runs at its wall-clock times, a time in a gap at
  the end of the gap, a repeated time once; see ``CronTrigger._crontab_fixed``.)

Both work on aware datetimes and only run when the trigger's fast search cannot
prove that no offset change lies between the start and its answer.
"""

from __future__ import annotations

from bisect import bisect_left
from datetime import date, datetime, timedelta, timezone
from typing import Any

__all__ = ["crontab_walk", "keyword_walk"]

_UTC = timezone.utc
# Field index (year, month, day, week, day_of_week, hour, minute, second) -> index of the
# datetime component a carry lands on (week and weekday carry into the day).
_CARRY_COMPONENT = (0, 1, 2, 2, 2, 3, 4, 5)
_COMPONENT_FIELD = (0, 1, 2, 5, 6, 7)
_COMPONENT_MINIMUM = (1970, 1, 1, 0, 0, 0)
_LIMIT = 100_000  # loop guard; a real search takes a few dozen steps


_MONTH_LENGTHS = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _month_length(year: int, month: int) -> int:
    if month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
        return 29
    return _MONTH_LENGTHS[month]


def _components(dt: datetime) -> list[int]:
    return [dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second]


def _elapsed(dt: datetime, seconds: float, tz: Any) -> datetime:
    """``dt`` plus ``seconds`` of elapsed time, as a real wall time in ``tz``."""
    return (dt.astimezone(_UTC) + timedelta(seconds=seconds)).astimezone(tz)


# --- keyword form: APScheduler 3.11's rule ------------------------------------------------
def _carried(values: list[int], field: int) -> tuple[list[int] | None, int]:
    """The wall-clock target of a carry into ``field``: one unit more (carrying further
    up when the field is at its maximum), the lower fields at their minimum."""
    if field < 0:
        return None, -1
    values = list(values)
    component = _CARRY_COMPONENT[field]
    while component >= 0:
        if component == 0:
            maximum = 9999
        elif component == 1:
            maximum = 12
        elif component == 2:
            maximum = _month_length(values[0], values[1])
        elif component == 3:
            maximum = 23
        else:
            maximum = 59
        if values[component] < maximum:
            values[component] += 1
            break
        component -= 1
    if component < 0:
        return None, -1
    for lower in range(component + 1, 6):
        values[lower] = _COMPONENT_MINIMUM[lower]
    return values, _COMPONENT_FIELD[component]


def _carry(trigger: Any, dt: datetime, field: int) -> tuple[datetime | None, int]:
    """Carry into ``field`` (see ``_carried``), applying the change as elapsed time: the
    wall-clock difference is added in UTC, as APScheduler does."""
    values, field = _carried(_components(dt), field)
    if values is None:
        return None, -1
    target = datetime(*values)
    try:
        moved = _elapsed(dt, (target - dt.replace(tzinfo=None)).total_seconds(), trigger.timezone)
    except OverflowError:
        return None, -1
    return moved, field


def _assign(trigger: Any, dt: datetime, field: int, value: int) -> datetime:
    """Set ``field`` to ``value`` and the lower wall-clock fields to their minimum (the
    wall-clock reading is built directly, keeping ``dt``'s fold)."""
    component = _CARRY_COMPONENT[field]
    values = _components(dt)[:component]
    values.append(value)
    values.extend(_COMPONENT_MINIMUM[component + 1 :])
    return datetime(*values, tzinfo=trigger.timezone, fold=dt.fold)


def _value_and_next(trigger: Any, field: int, dt: datetime) -> tuple[int, int]:
    """The field's current value in ``dt`` and its next allowed value (-1: none left)."""
    if field == 0:
        years = trigger._years
        index = bisect_left(years, dt.year)
        return dt.year, years[index] if index < len(years) else -1
    if field == 1:
        return dt.month, trigger._next_month[dt.month]
    if field == 2:
        return dt.day, trigger._dom_table(dt.year, dt.month)[dt.day]
    if field == 3:
        week = dt.isocalendar()[1]
        return week, trigger._next_week[week]
    if field == 4:
        weekday = dt.weekday()
        return weekday, trigger._next_weekday[weekday]
    if field == 5:
        return dt.hour, trigger._next_hour[dt.hour]
    if field == 6:
        return dt.minute, trigger._next_minute[dt.minute]
    return dt.second, trigger._next_second[dt.second]


def keyword_walk(trigger: Any, start: datetime) -> datetime | None:
    """APScheduler 3.11's search from ``start`` (its own starting point, in the
    trigger's zone). Returns its answer as it would (possibly a wall time inside a
    gap, whose instant is what counts), or None.

    The walk runs on integers while every carry stays within days that keep one UTC
    offset and lands at the offset it left (then elapsed and wall-clock time agree,
    so the carry lands exactly on its target); from the first carry that does not,
    it continues on datetimes, exactly as APScheduler computes it.
    """
    if start.fold or not trigger._plain_day(start.toordinal()):
        return _datetime_walk(trigger, start, 0)
    tz = trigger.timezone
    end_date = trigger.end_date
    day_offset = trigger._day_offset
    next_hour, next_minute, next_second = (
        trigger._next_hour,
        trigger._next_minute,
        trigger._next_second,
    )
    any_week, any_weekday = trigger._weeks is None, trigger._weekdays is None
    values = _components(start)
    start_day = values[:3]
    field = 0
    for _ in range(_LIMIT):
        if field == 7:
            current = values[5]
            following = next_second[current]
        elif field == 6:
            current = values[4]
            following = next_minute[current]
        elif field == 5:
            current = values[3]
            following = next_hour[current]
        elif (field == 3 and any_week) or (field == 4 and any_weekday):
            field += 1  # a wildcard week or weekday always matches
            continue
        elif 0 <= field < 5:
            current, following = _int_value_and_next(trigger, field, values)
        else:
            break
        if following < 0 or (following > current and (field == 3 or field == 4)):
            into = field - 1 if following < 0 else field
            target, carried = _carried(values, into)
            if target is None:
                return None
            # Exact when the target's day keeps one offset and it is the offset the
            # carry starts from: elapsed and wall-clock time then agree.
            if target[:3] == start_day:  # within the start's day, which keeps one offset
                values, field = target, carried
                continue
            there = day_offset(target[0], target[1], target[2])
            if there is not None:
                here = day_offset(values[0], values[1], values[2])
                if here is None:
                    here = tz.utcoffset(datetime(*values, tzinfo=tz))
                if here == there:
                    values, field = target, carried
                    continue
            # Otherwise carry as elapsed time, on datetimes (APScheduler's arithmetic).
            dt = datetime(*values, tzinfo=tz)
            if end_date is not None and dt > end_date:
                return None
            moved, field = _carry(trigger, dt, into)
            if moved is None:
                return None
            if end_date is not None and moved > end_date:
                return None
            if moved.fold or day_offset(moved.year, moved.month, moved.day) is None:
                return _datetime_walk(trigger, moved, field)
            values = _components(moved)
        elif following > current:
            component = _CARRY_COMPONENT[field]
            values = [*values[:component], following, *_COMPONENT_MINIMUM[component + 1 :]]
            field += 1
        else:
            field += 1
    else:  # pragma: no cover - the loop guard never trips on a real schedule
        return None
    if field < 0:
        return None
    fire_time = datetime(*values, tzinfo=tz)
    if end_date is not None and fire_time > end_date:
        return None
    return fire_time


def _int_value_and_next(trigger: Any, field: int, values: list[int]) -> tuple[int, int]:
    """``_value_and_next`` for a wall time given as integers."""
    if field == 5:
        return values[3], trigger._next_hour[values[3]]
    if field == 6:
        return values[4], trigger._next_minute[values[4]]
    if field == 7:
        return values[5], trigger._next_second[values[5]]
    if field == 0:
        years = trigger._years
        index = bisect_left(years, values[0])
        return values[0], years[index] if index < len(years) else -1
    if field == 1:
        return values[1], trigger._next_month[values[1]]
    if field == 2:
        return values[2], trigger._dom_table(values[0], values[1])[values[2]]
    day = date(values[0], values[1], values[2])
    if field == 3:
        week = day.isocalendar()[1]
        return week, trigger._next_week[week]
    weekday = day.weekday()
    return weekday, trigger._next_weekday[weekday]


def _datetime_walk(trigger: Any, start: datetime, field: int) -> datetime | None:
    """APScheduler's walk on aware datetimes, from ``start`` at field index ``field``."""
    end_date = trigger.end_date
    dt: datetime | None = start
    for _ in range(_LIMIT):
        if not 0 <= field < 8:
            break
        current, following = _value_and_next(trigger, field, dt)
        if following < 0:
            dt, field = _carry(trigger, dt, field - 1)
        elif following > current:
            if field in (3, 4):  # week and weekday are not datetime fields: next day
                dt, field = _carry(trigger, dt, field)
            else:
                dt = _assign(trigger, dt, field, following)
                field += 1
        else:
            field += 1
        if dt is None:
            return None
        if end_date is not None and dt > end_date:
            return None
    else:  # pragma: no cover - the loop guard never trips on a real schedule
        return None
    return dt if field >= 0 else None


# --- crontab form with a wildcard minute or hour: cronsim's (Debian cron's) rule --------
def _midnight(trigger: Any, year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, tzinfo=trigger.timezone)


def crontab_walk(trigger: Any, start: datetime) -> datetime | None:
    """cronsim 2.8's search for a line whose minute or hour starts with ``*``, from the
    (real, whole-second) instant ``start`` inclusive."""
    tz = trigger.timezone
    next_month, next_hour = trigger._next_month, trigger._next_hour
    next_minute, minutes = trigger._next_minute, trigger._minute_values
    dt = start
    try:
        for _ in range(_LIMIT):
            if next_month[dt.month] != dt.month:
                year, month = dt.year, next_month[dt.month]
                if month < 0:
                    year, month = year + 1, next_month[1]
                if year > 9999:
                    return None
                dt = _midnight(trigger, year, month, 1)
            table = trigger._day_table_for(dt.year, dt.month)
            day = table[dt.day]
            if day != dt.day:
                if day < 0:
                    year, month = (dt.year + 1, 1) if dt.month == 12 else (dt.year, dt.month + 1)
                    if year > 9999:
                        return None
                    dt = _midnight(trigger, year, month, 1)
                else:
                    dt = _midnight(trigger, dt.year, dt.month, day)
                continue
            if next_hour[dt.hour] != dt.hour:
                dt = dt.replace(minute=0, second=0)
                while True:
                    dt = _elapsed(dt, 3600, tz)
                    if next_hour[dt.hour] == dt.hour or dt.hour == 0:
                        break
                continue
            if next_minute[dt.minute] != dt.minute:
                dt = dt.replace(second=0)
                if len(minutes) == 1:
                    dt = _elapsed(dt, (minutes[0] - dt.minute) % 60 * 60, tz)
                while next_minute[dt.minute] != dt.minute:
                    dt = _elapsed(dt, 60, tz)
                    if dt.minute == 0:
                        break
                continue
            if dt.second:
                dt = _elapsed(dt, 60 - dt.second, tz)
                continue
            return dt
    except OverflowError:
        return None
    return None  # pragma: no cover - the loop guard never trips on a real schedule
