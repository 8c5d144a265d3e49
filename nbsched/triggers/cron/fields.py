"""Cron fields: a name, the expressions given for it, and the values they compile to.

A field is compiled once, at construction, to a sorted tuple of allowed values so the
trigger can find the next value with ``bisect``. The day-of-month field may also hold
calendar-dependent expressions (``last``, ``2nd fri``); those are resolved per month by
the trigger. The public surface (``name``, ``is_default``, ``expressions``, ``str()``,
``REAL``) mirrors APScheduler 3.11 because user code inspects ``trigger.fields``.
"""

from __future__ import annotations

import re
from calendar import monthrange
from typing import Any, ClassVar

from nbsched.triggers.cron.expressions import Expression, parse_expression

__all__ = [
    "DEFAULT_VALUES",
    "FIELD_NAMES",
    "MAX_VALUES",
    "MIN_VALUES",
    "BaseField",
    "DayOfMonthField",
    "DayOfWeekField",
    "MonthField",
    "WeekField",
    "make_field",
]

FIELD_NAMES = ("year", "month", "day", "week", "day_of_week", "hour", "minute", "second")
MIN_VALUES = {
    "year": 1970,
    "month": 1,
    "day": 1,
    "week": 1,
    "day_of_week": 0,
    "hour": 0,
    "minute": 0,
    "second": 0,
}
MAX_VALUES = {
    "year": 9999,
    "month": 12,
    "day": 31,
    "week": 53,
    "day_of_week": 6,
    "hour": 23,
    "minute": 59,
    "second": 59,
}
#: What an unspecified field less significant than the last given one becomes
#: (APScheduler's rule: ``CronTrigger(day=1)`` means midnight on the 1st, not every
#: second of the 1st).
DEFAULT_VALUES: dict[str, Any] = {
    "year": "*",
    "month": 1,
    "day": 1,
    "week": "*",
    "day_of_week": "*",
    "hour": 0,
    "minute": 0,
    "second": 0,
}
_SEPARATOR = re.compile(r" *, *")


class BaseField:
    """A field whose values are plain numbers (year, hour, minute, second)."""

    #: Whether the field is a component of a datetime (week and weekday are not).
    REAL: ClassVar[bool] = True

    def __init__(self, name: str, exprs: Any, is_default: bool = False) -> None:
        if name not in MIN_VALUES:
            raise ValueError(f"field name: {name!r}: not one of {', '.join(FIELD_NAMES)}")
        self.name = name
        self.is_default = is_default
        text = str(exprs).strip()
        if not text:
            raise ValueError(f"{name}: {exprs!r}: empty expression")
        low, high = MIN_VALUES[name], MAX_VALUES[name]
        self.expressions: list[Expression] = [
            parse_expression(name, part, low, high) for part in _SEPARATOR.split(text)
        ]
        static: set[int] = set()
        for expr in self.expressions:
            if not expr.dynamic:
                static.update(expr.static_values(low, high))
        #: Sorted allowed values (for the day field: the calendar-independent ones).
        self.values: tuple[int, ...] = tuple(sorted(static))
        #: The expressions whose values depend on the month (day field only).
        self.dynamic: tuple[Expression, ...] = tuple(e for e in self.expressions if e.dynamic)

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickle the expression text, not the compiled values: a year field alone holds 8,030
        # of them, which made every stored cron job ~25 KB. Recompiling on load is cheap.
        return (make_field, (self.name, str(self), self.is_default))

    # APScheduler's per-field lookups, for code that calls them directly (the trigger
    # itself searches with compiled tables).
    def get_min(self, dateval: Any) -> int:
        return MIN_VALUES[self.name]

    def get_max(self, dateval: Any) -> int:
        return MAX_VALUES[self.name]

    def get_value(self, dateval: Any) -> int:
        return getattr(dateval, self.name)

    def get_next_value(self, dateval: Any) -> int | None:
        """The smallest allowed value at or after ``dateval``'s, or None."""
        found = [expr.get_next_value(dateval, self) for expr in self.expressions]
        values = [value for value in found if value is not None]
        return min(values) if values else None

    @property
    def is_wildcard(self) -> bool:
        """True when the field allows every value (so it restricts nothing)."""
        return len(self.values) == MAX_VALUES[self.name] - MIN_VALUES[self.name] + 1

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BaseField):
            return NotImplemented
        return (type(self), self.name, self.expressions, self.is_default) == (
            type(other),
            other.name,
            other.expressions,
            other.is_default,
        )

    def __hash__(self) -> int:
        return hash((self.name, tuple(self.expressions), self.is_default))

    def __str__(self) -> str:
        return ",".join(str(expr) for expr in self.expressions)

    def __repr__(self) -> str:
        return f"{type(self).__name__}('{self.name}', '{self}')"


class WeekField(BaseField):
    """ISO week number (1-53) of the date, regardless of which ISO year it belongs to."""

    REAL = False

    def get_value(self, dateval: Any) -> int:
        return dateval.isocalendar()[1]


class DayOfMonthField(BaseField):
    """Day of the month, including ``last`` and ``<nth> <weekday>``."""

    def get_max(self, dateval: Any) -> int:
        return monthrange(dateval.year, dateval.month)[1]


class DayOfWeekField(BaseField):
    """Weekday, 0 = Monday (APScheduler's numbering, kept for compatibility)."""

    REAL = False

    def get_value(self, dateval: Any) -> int:
        return dateval.weekday()


class MonthField(BaseField):
    """Month number or name."""


_FIELD_CLASSES: dict[str, type[BaseField]] = {
    "year": BaseField,
    "month": MonthField,
    "day": DayOfMonthField,
    "week": WeekField,
    "day_of_week": DayOfWeekField,
    "hour": BaseField,
    "minute": BaseField,
    "second": BaseField,
}


def make_field(name: str, exprs: Any, is_default: bool = False) -> BaseField:
    """Build the right field class for ``name``."""
    return _FIELD_CLASSES[name](name, exprs, is_default)
