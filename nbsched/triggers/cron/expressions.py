"""The pieces a cron field is made of: ``*``, ``*/n``, ``a-b/n``, names, ``last``, ``2nd fri``.

Each expression is parsed once, validated once and then only asked for the set of
values it allows. Most expressions allow a fixed set (``static_values``); the two
day-of-month forms that depend on the calendar (``last`` and ``<nth> <weekday>``)
answer per month instead (``days_in``), and the field caches the answer per
(year, month). ``str()`` of every expression reproduces APScheduler 3.11's spelling so
that printed triggers look the same after migrating.
"""

from __future__ import annotations

import re
from calendar import monthrange
from typing import Any

__all__ = [
    "MONTHS",
    "WEEKDAYS",
    "AllExpression",
    "Expression",
    "LastDayOfMonthExpression",
    "MonthRangeExpression",
    "RangeExpression",
    "WeekdayPositionExpression",
    "WeekdayRangeExpression",
    "parse_expression",
]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
POSITIONS = ("1st", "2nd", "3rd", "4th", "5th", "last")

# re.ASCII throughout: ``\d`` would otherwise accept other scripts' digits (Arabic-Indic
# "\u0662", full-width "\uff12"), which int() reads as 2, and IGNORECASE would match
# "\u017f" (long s) as "s" and the Kelvin sign as "k". A cron field is ASCII.
_ALL_RE = re.compile(r"\*(?:/(?P<step>\d+))?$", re.ASCII)
_RANGE_RE = re.compile(r"(?P<first>\d+)(?:-(?P<last>\d+))?(?:/(?P<step>\d+))?$", re.ASCII)
_NAME_RANGE_RE = re.compile(
    r"(?P<first>[a-z]+)(?:-(?P<last>[a-z]+))?(?:/(?P<step>\d+))?$", re.IGNORECASE | re.ASCII
)
_POSITION_RE = re.compile(
    r"(?P<position>1st|2nd|3rd|4th|5th|last) +(?P<weekday>\S+)$", re.IGNORECASE | re.ASCII
)
_LAST_RE = re.compile(r"last$", re.IGNORECASE | re.ASCII)


class Expression:
    """One comma-separated part of a field. Subclasses define what it allows."""

    #: True when the allowed values depend on the month (see ``days_in``).
    dynamic = False

    def static_values(self, low: int, high: int) -> range | tuple[int, ...]:
        """Values allowed within ``low..high`` (the field's bounds)."""
        raise NotImplementedError

    def days_in(self, year: int, month: int) -> tuple[int, ...]:
        """Days of ``year-month`` allowed (only for ``dynamic`` expressions)."""
        raise NotImplementedError

    def get_next_value(self, date: Any, field: Any) -> int | None:
        """APScheduler's per-expression lookup: the smallest allowed value of ``field``
        at or after its value in ``date``, or None (for code that calls it directly;
        the trigger itself uses compiled tables)."""
        if self.dynamic:
            days = [day for day in self.days_in(date.year, date.month) if day >= date.day]
            return min(days) if days else None
        current = field.get_value(date)
        for value in self.static_values(field.get_min(date), field.get_max(date)):
            if value >= current:
                return value
        return None

    def _key(self) -> tuple:
        return ()

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash((type(self).__name__, *self._key()))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class AllExpression(Expression):
    """``*`` or ``*/step``: every value of the field, optionally every n-th from the minimum."""

    def __init__(self, step: int | None = None) -> None:
        self.step = step

    def static_values(self, low: int, high: int) -> range:
        return range(low, high + 1, self.step or 1)

    def _key(self) -> tuple:
        return (self.step,)

    def __str__(self) -> str:
        return f"*/{self.step}" if self.step else "*"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.step})"


class RangeExpression(Expression):
    """``a``, ``a-b``, ``a-b/n`` or ``a/n`` (from ``a`` to the field's maximum)."""

    def __init__(self, first: int, last: int | None = None, step: int | None = None) -> None:
        if last is None and step is None:
            last = first
        self.first = first
        self.last = last
        self.step = step

    def static_values(self, low: int, high: int) -> range:
        last = high if self.last is None else min(self.last, high)
        return range(max(self.first, low), last + 1, self.step or 1)

    def _key(self) -> tuple:
        return (self.first, self.last, self.step)

    def _range_text(self, first: str, last: str) -> str:
        # APScheduler prints "a-b" only when the bounds differ; keep its spelling.
        differs = self.last is not None and self.last != self.first
        text = f"{first}-{last}" if differs else first
        return f"{text}/{self.step}" if self.step else text

    def __str__(self) -> str:
        return self._range_text(str(self.first), str(self.last))

    def _repr_args(self) -> list[str]:
        args = [str(self.first)]
        if (self.last is not None and self.last != self.first) or self.step:
            args.append(str(self.last))
        if self.step:
            args.append(str(self.step))
        return args

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(self._repr_args())})"


class MonthRangeExpression(RangeExpression):
    """A month name or a range of month names (``jan``, ``mar-oct``, ``jan-dec/3``)."""

    def __init__(self, first: int | str, last: int | str | None = None, step: int | None = None):
        super().__init__(
            _name_or_number("month", first, MONTHS, 1),
            None if last is None else _name_or_number("month", last, MONTHS, 1),
            step,
        )

    def _repr_args(self) -> list[str]:
        args = [repr(MONTHS[self.first - 1])]
        if self.last is not None and self.last != self.first:
            args.append(repr(MONTHS[self.last - 1]))
        return args + ([str(self.step)] if self.step else [])

    def __str__(self) -> str:
        last = MONTHS[self.last - 1] if self.last is not None else ""
        return self._range_text(MONTHS[self.first - 1], last)


class WeekdayRangeExpression(RangeExpression):
    """A weekday name or a range of names (``mon``, ``mon-fri``); 0 is Monday."""

    def __init__(self, first: int | str, last: int | str | None = None, step: int | None = None):
        super().__init__(
            _name_or_number("day_of_week", first, WEEKDAYS, 0),
            None if last is None else _name_or_number("day_of_week", last, WEEKDAYS, 0),
            step,
        )

    def _repr_args(self) -> list[str]:
        args = [repr(WEEKDAYS[self.first])]
        if self.last is not None and self.last != self.first:
            args.append(repr(WEEKDAYS[self.last]))
        return args + ([str(self.step)] if self.step else [])

    def __str__(self) -> str:
        last = WEEKDAYS[self.last] if self.last is not None else ""
        return self._range_text(WEEKDAYS[self.first], last)


class WeekdayPositionExpression(Expression):
    """``1st``..``5th`` or ``last`` followed by a weekday name, in the day-of-month field."""

    dynamic = True

    def __init__(self, position: int | str, weekday: int | str) -> None:
        if isinstance(position, str):  # APScheduler's spelling: ("2nd", "fri")
            try:
                position = POSITIONS.index(position.lower())
            except ValueError:
                raise ValueError(f"day: {position!r}: unknown weekday position") from None
        self.position = position  # index into POSITIONS; 5 means "last"
        self.weekday = _name_or_number("day", weekday, WEEKDAYS, 0)

    def days_in(self, year: int, month: int) -> tuple[int, ...]:
        first_weekday, days = monthrange(year, month)
        first_hit = (self.weekday - first_weekday) % 7 + 1
        if self.position == 5:
            day = first_hit + (days - first_hit) // 7 * 7
        else:
            day = first_hit + 7 * self.position
        return (day,) if day <= days else ()

    def _key(self) -> tuple:
        return (self.position, self.weekday)

    def __str__(self) -> str:
        return f"{POSITIONS[self.position]} {WEEKDAYS[self.weekday]}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({POSITIONS[self.position]!r}, {WEEKDAYS[self.weekday]!r})"


class LastDayOfMonthExpression(Expression):
    """``last``: the month's last day, whatever its length."""

    dynamic = True

    def days_in(self, year: int, month: int) -> tuple[int, ...]:
        return (monthrange(year, month)[1],)

    def __str__(self) -> str:
        return "last"

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _name_index(field: str, text: str, name: str, names: tuple[str, ...], base: int) -> int:
    try:
        return names.index(name.lower()) + base
    except ValueError:
        kind = "month" if names is MONTHS else "weekday"
        raise ValueError(
            f"{field}: {text!r}: unknown {kind} name {name!r} (expected one of {', '.join(names)})"
        ) from None


def _name_or_number(field: str, value: int | str, names: tuple[str, ...], base: int) -> int:
    """An index given as a number, or as a name (APScheduler's constructors take names)."""
    if isinstance(value, str):
        return _name_index(field, value, value, names, base)
    return value


def _to_int(text: str | None) -> int | None:
    return None if text is None else int(text)


def parse_expression(field: str, text: str, low: int, high: int) -> Expression:
    """Parse one comma-separated part ``text`` of the field called ``field``.

    ``low``/``high`` are the field's bounds; every error names the field and the text,
    e.g. ``"hour: '25': out of range 0-23 (Error validating expression '25': the last
    value (25) is higher than the maximum value (23))"`` -- ours, then APScheduler's.
    """
    span = high - low
    if match := _ALL_RE.match(text):
        step = _to_int(match["step"])
        _check_step(field, text, step, span)
        return AllExpression(step)

    if match := _RANGE_RE.match(text):
        first, last, step = (_to_int(match[k]) for k in ("first", "last", "step"))
        return _checked_range(RangeExpression, field, text, first, last, step, low, high)

    if field in ("month", "day_of_week") and (match := _NAME_RANGE_RE.match(text)):
        names, base, cls = (
            (MONTHS, 1, MonthRangeExpression)
            if field == "month"
            else (WEEKDAYS, 0, WeekdayRangeExpression)
        )
        first = _name_index(field, text, match["first"], names, base)
        last = match["last"] and _name_index(field, text, match["last"], names, base)
        return _checked_range(cls, field, text, first, last, _to_int(match["step"]), low, high)

    if field == "day":
        if match := _POSITION_RE.match(text):
            position = POSITIONS.index(match["position"].lower())
            weekday = _name_index(field, text, match["weekday"], WEEKDAYS, 0)
            return WeekdayPositionExpression(position, weekday)
        if _LAST_RE.match(text):
            return LastDayOfMonthExpression()

    hint = {
        "month": "a number 1-12, a month name, a range or */n",
        "day": "a number 1-31, a range, */n, 'last' or '<1st..5th|last> <weekday>'",
        "day_of_week": "a number 0-6 (0 = Monday), a weekday name, a range or */n",
    }.get(field, f"a number {low}-{high}, a range a-b, a step a-b/n or */n")
    raise ValueError(f"{field}: {text!r}: unrecognised expression (expected {hint})")


def _check_step(field: str, text: str, step: int | None, span: int) -> None:
    if step is None:
        return
    if step <= 0:
        raise ValueError(f"{field}: {text!r}: step must be positive")
    if step > span:
        raise ValueError(_step_message(field, text, step, span))


def _step_message(field: str, text: str, step: int, span: int) -> str:
    # Ours, then APScheduler's wording (user code and its test suite match on it).
    return (
        f"{field}: {text!r}: step {step} is larger than the range it steps ({span}) "
        f"(Error validating expression {text!r}: the step value ({step}) is higher than "
        f"the total range of the expression ({span}))"
    )


def _range_message(field: str, text: str, low: int, high: int, detail: str) -> str:
    return (
        f"{field}: {text!r}: out of range {low}-{high} "
        f"(Error validating expression {text!r}: {detail})"
    )


def _checked_range(
    cls: type[RangeExpression],
    field: str,
    text: str,
    first: int,
    last: int | None,
    step: int | None,
    low: int,
    high: int,
) -> RangeExpression:
    if first < low:
        detail = f"the first value ({first}) is lower than the minimum value ({low})"
        raise ValueError(_range_message(field, text, low, high, detail))
    # A single value is the range first-first, as in APScheduler.
    last_value = first if last is None and step is None else last
    if last_value is not None and last_value > high:
        detail = f"the last value ({last_value}) is higher than the maximum value ({high})"
        raise ValueError(_range_message(field, text, low, high, detail))
    if first > high:
        detail = f"the first value ({first}) is higher than the maximum value ({high})"
        raise ValueError(_range_message(field, text, low, high, detail))
    if last is not None and first > last:
        raise ValueError(
            f"{field}: {text!r}: range runs backwards ({first} > {last}); "
            "write it as a list of two ranges instead"
        )
    if step is not None:
        if step <= 0:
            raise ValueError(f"{field}: {text!r}: step must be positive")
        span = (high if last is None else last) - first
        if step > span:
            raise ValueError(_step_message(field, text, step, span))
    return cls(first, last, step)
