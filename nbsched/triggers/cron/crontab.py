"""Read a crontab line the way real cron (Vixie/ISC cron, and croniter) reads it.

APScheduler 3's ``from_crontab`` feeds the five fields straight into its keyword form,
so weekday 0 is Monday and the two day fields are ANDed. Users who paste a line from a
crontab expect cron's meaning, so here: weekday 0 and 7 are Sunday, names work, and
when both day-of-month and day-of-week are restricted (neither starts with ``*``) a day
that matches either one fires. The result is expressed in the keyword form (weekdays
become names, so ``str()`` is unambiguous) plus the ``day_or`` flag.
"""

from __future__ import annotations

import re
from typing import Any

from nbsched.triggers.cron.expressions import MONTHS, WEEKDAYS
from nbsched.triggers.cron.fields import MAX_VALUES, MIN_VALUES

__all__ = ["ALIASES", "parse_crontab"]

ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
# Cron's weekday names, in cron's numbering (0 = Sunday).
_CRON_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
# ASCII only: ``\d``/``\w`` and str.isdigit() would take other scripts' digits.
_STEPPED = re.compile(r"(?P<first>\*|\w+)(?:-(?P<last>\w+))?/(?P<step>\d+)$", re.ASCII)
_DOW_PART = re.compile(
    r"(?:(?P<star>\*)|(?P<first>\w+)(?:-(?P<last>\w+))?)(?:/(?P<step>\d+))?$", re.ASCII
)


def parse_crontab(expr: Any) -> tuple[dict[str, str], bool, str]:
    """Split ``expr`` into keyword-form field expressions, the day-OR flag and the DST
    mode: ``"fixed"`` when neither the minute nor the hour field starts with ``*``
    (Debian cron then runs wall-clock times, a time in a gap when the gap ends, a
    repeated time once), else ``"elapsed"`` (it advances by elapsed time)."""
    if not isinstance(expr, str):
        raise TypeError(f"expr: expected a crontab string, got {type(expr).__name__}")
    text = expr.strip()
    if text.startswith("@"):
        try:
            text = ALIASES[text.lower()]
        except KeyError:
            raise ValueError(
                f"expr: {expr!r}: unknown shortcut (expected one of {', '.join(ALIASES)})"
            ) from None
    parts = text.split()
    if len(parts) != 5:
        raise ValueError(
            f"expr: {expr!r}: a crontab line has 5 fields "
            f"(minute hour day month day_of_week), got {len(parts)}"
        )
    minute, hour, day, month, day_of_week = parts
    day_or = not day.startswith("*") and not day_of_week.startswith("*")
    mode = "elapsed" if minute.startswith("*") or hour.startswith("*") else "fixed"
    fields = {
        "minute": _fit_steps("minute", minute),
        "hour": _fit_steps("hour", hour),
        "day": _fit_steps("day", day),
        "month": _fit_steps("month", month),
        "day_of_week": _translate_weekdays(day_of_week),
    }
    return fields, day_or, mode


def _fit_steps(name: str, field: str) -> str:
    """Rewrite each part whose step is larger than its range as the range's first value.

    Cron takes ``7-8/4`` (or ``*/70`` for minutes) to mean "every 4th value from 7 to 8",
    which is just 7; the keyword form rejects such a step, as APScheduler does, so the
    crontab reader hands it the single value instead. Anything it does not recognise is
    left for the keyword parser to judge (and reject with its usual message).
    """
    if "/" not in field:
        return field
    parts = field.split(",")
    for index, part in enumerate(parts):
        match = _STEPPED.match(part)
        if not match:
            continue
        first = _crontab_value(name, match["first"])
        last = _crontab_value(name, match["last"]) if match["last"] else MAX_VALUES[name]
        step = int(match["step"])
        if first is None or last is None or step <= 0 or first > last:
            continue
        if step > last - first:
            parts[index] = str(first) if match["first"] == "*" else match["first"]
    return ",".join(parts)


def _is_number(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _crontab_value(name: str, text: str) -> int | None:
    if text == "*":
        return MIN_VALUES[name]
    if _is_number(text):
        return int(text)
    if name == "month" and text.lower() in MONTHS:
        return MONTHS.index(text.lower()) + 1
    return None


def _cron_weekday(text: str, part: str) -> int:
    if _is_number(text):
        value = int(text)
        if not 0 <= value <= 7:
            raise ValueError(f"day_of_week: {part!r}: out of range 0-7 (0 and 7 are Sunday)")
        return value
    try:
        return _CRON_WEEKDAYS.index(text.lower())
    except ValueError:
        raise ValueError(
            f"day_of_week: {part!r}: unknown weekday name {text!r} "
            f"(expected one of {', '.join(_CRON_WEEKDAYS)})"
        ) from None


def _translate_weekdays(field: str) -> str:
    """Turn cron's weekday field (0/7 = Sunday) into keyword form (names, Monday first)."""
    if field == "*":
        return "*"
    days: set[int] = set()
    for part in field.split(","):
        match = _DOW_PART.match(part)
        if not match:
            raise ValueError(f"day_of_week: {part!r}: unrecognised expression")
        step = int(match["step"]) if match["step"] else 1
        if step <= 0:
            raise ValueError(f"day_of_week: {part!r}: step must be positive")
        if match["star"]:
            first, last = 0, 6
        else:
            first = _cron_weekday(match["first"], part)
            if match["last"]:
                last = _cron_weekday(match["last"], part)
            elif match["step"]:
                last = 7  # "a/n" runs to the end of cron's 0-7 range (7 is Sunday again)
            else:
                last = first
            if first > last:
                raise ValueError(
                    f"day_of_week: {part!r}: range runs backwards ({first} > {last}); "
                    "write it as a list of two ranges instead"
                )
        days.update(value % 7 for value in range(first, last + 1, step))
    # cron 0 = Sunday -> keyword 6; cron 1 = Monday -> keyword 0
    keyword_days = sorted((day + 6) % 7 for day in days)
    if len(keyword_days) == 7:
        return "*"
    return ",".join(_compress(keyword_days))


def _compress(days: list[int]) -> list[str]:
    """Render sorted weekday numbers as names, joining runs of 3+ into ranges."""
    runs: list[list[int]] = []
    for day in days:
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    out: list[str] = []
    for run in runs:
        if len(run) >= 3:
            out.append(f"{WEEKDAYS[run[0]]}-{WEEKDAYS[run[-1]]}")
        else:
            out.extend(WEEKDAYS[day] for day in run)
    return out
