"""Plain-English descriptions of cron triggers ("at 09:30 on Monday through Friday").

The common shapes (a fixed time of day, "every n minutes", weekday ranges, "the last
Friday of the month") get natural phrases; anything else falls back to listing each
restricted field, which is clumsy but never wrong. The time zone is named whenever
the schedule pins an hour, because that is when the zone changes the answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nbsched.timezones import timezone_name
from nbsched.triggers.cron.expressions import (
    AllExpression,
    Expression,
    LastDayOfMonthExpression,
    RangeExpression,
    WeekdayPositionExpression,
)

if TYPE_CHECKING:
    from nbsched.triggers.cron import CronTrigger
    from nbsched.triggers.cron.fields import BaseField

__all__ = ["describe_trigger"]

_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTH_NAMES = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
_ORDINALS = ("first", "second", "third", "fourth", "fifth", "last")


def _join(items: list[str], word: str = "and") -> str:
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {word} {items[-1]}"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _value_name(field: str, value: int) -> str:
    if field == "day_of_week":
        return _DAY_NAMES[value]
    if field == "month":
        return _MONTH_NAMES[value - 1]
    return str(value)


def _expr_phrase(field: str, unit: str, expr: Expression) -> str:
    """One expression of a field, e.g. 'Monday through Friday' or 'every 2nd hour'."""
    if isinstance(expr, AllExpression):
        return f"every {_ordinal(expr.step)} {unit}" if expr.step else f"every {unit}"
    if isinstance(expr, RangeExpression):
        first = _value_name(field, expr.first)
        if expr.last is None:
            span = f"from {first} on"
        elif expr.last == expr.first:
            span = first
        else:
            span = f"{first} through {_value_name(field, expr.last)}"
        if expr.step:
            span = span if expr.last is None else f"from {span}"
            return f"every {_ordinal(expr.step)} {unit} {span}"
        return span
    if isinstance(expr, WeekdayPositionExpression):
        return f"the {_ORDINALS[expr.position]} {_DAY_NAMES[expr.weekday]} of the month"
    if isinstance(expr, LastDayOfMonthExpression):
        return "the last day of the month"
    return str(expr)  # pragma: no cover - every expression type is handled above


def _field_phrase(field: BaseField, unit: str) -> str:
    return _join([_expr_phrase(field.name, unit, e) for e in field.expressions])


def _single(field: BaseField) -> int | None:
    return field.values[0] if len(field.values) == 1 and not field.dynamic else None


def _step_only(field: BaseField) -> int | None:
    """n when the field is exactly ``*/n``."""
    if len(field.expressions) == 1 and isinstance(field.expressions[0], AllExpression):
        return field.expressions[0].step
    return None


def _unit_phrase(field: BaseField, unit: str) -> str:
    """'minute 30', 'every 5 minutes', 'every minute', 'hours 9 through 17', ..."""
    single = _single(field)
    if single is not None:
        return f"{unit} {single}"
    if field.is_wildcard:
        return f"every {unit}"
    step = _step_only(field)
    if step:
        return f"every {step} {unit}s"
    if any(getattr(e, "step", None) for e in field.expressions):
        return _field_phrase(field, unit)
    return f"{unit}s {_field_phrase(field, unit)}"


def _time_phrase(hour: BaseField, minute: BaseField, second: BaseField) -> tuple[str, bool]:
    """Describe the time of day; the flag says whether the hour is pinned."""
    h, m, s = _single(hour), _single(minute), _single(second)
    pinned = not hour.is_wildcard and not _step_only(hour)
    if h is not None and m is not None and s is not None:
        return f"at {h:02d}:{m:02d}" + (f":{s:02d}" if s else ""), True
    seconds = None if s == 0 else _unit_phrase(second, "second")
    minutes = _unit_phrase(minute, "minute")
    hours = _unit_phrase(hour, "hour")
    if seconds and seconds.startswith("every") and minute.is_wildcard and hour.is_wildcard:
        return seconds, False
    if seconds is None and minutes.startswith("every") and hour.is_wildcard:
        return minutes, False
    if hour.is_wildcard and seconds:
        hours = None  # "second 5 of every minute" says it all
    pieces = [p for p in (seconds, minutes, hours) if p]
    text = " of ".join(pieces)
    return (text if text.startswith("every") else f"at {text}"), pinned


def _day_phrase(day: BaseField, weekday: BaseField, day_or: bool) -> str:
    parts: list[str] = []
    if not day.is_wildcard or day.dynamic:
        named = [e for e in day.expressions if not isinstance(e, (AllExpression, RangeExpression))]
        plain = [e for e in day.expressions if isinstance(e, (AllExpression, RangeExpression))]
        items = []
        if plain:
            phrase = _join([_expr_phrase("day", "day", e) for e in plain])
            several = len(plain) > 1 or _single(day) is None
            items.append(f"{'days' if several else 'day'} {phrase} of the month")
        items.extend(_expr_phrase("day", "day", e) for e in named)
        parts.append("on " + _join(items))
    if not weekday.is_wildcard:
        parts.append("on " + _field_phrase(weekday, "weekday"))
    return _join(parts, "or" if day_or else "and")


def describe_trigger(trigger: CronTrigger) -> str:
    """Say when ``trigger`` fires, in one English sentence fragment."""
    by_name = {f.name: f for f in trigger.fields}
    text, pinned = _time_phrase(by_name["hour"], by_name["minute"], by_name["second"])
    words = [text]
    days = _day_phrase(by_name["day"], by_name["day_of_week"], trigger.day_or)
    if days:
        words.append(days)
    if not by_name["week"].is_wildcard:
        words.append(f"in ISO week {_field_phrase(by_name['week'], 'week')}")
    if not by_name["month"].is_wildcard:
        words.append(f"in {_field_phrase(by_name['month'], 'month')}")
    if not by_name["year"].is_wildcard:
        words.append(f"in {_field_phrase(by_name['year'], 'year')}")
    if trigger.start_date is not None:
        words.append(f"from {trigger.start_date:%Y-%m-%d %H:%M:%S}")
    if trigger.end_date is not None:
        words.append(f"until {trigger.end_date:%Y-%m-%d %H:%M:%S}")
    sentence = " ".join(words)
    if pinned or days or len(words) > 1:
        sentence += f" ({timezone_name(trigger.timezone)})"
    if trigger.jitter:
        sentence += f", delayed by up to {trigger.jitter} s"
    return sentence
