"""The helpers APScheduler 3 programs import from ``apscheduler.util``, under nbsched's name.

A program migrated by changing its import prefix still finds ``undefined``, ``obj_to_ref``,
``convert_to_datetime`` and friends here. Each name is nbsched's own implementation (from
``timezones``, ``serialization``, ``job``, ``executors.base``), adapted only where APScheduler's
calling convention differs (``None`` in, ``None`` out; pytz zones; error types). nbsched's own
code does not import this module: it exists for users.
"""

from __future__ import annotations

import calendar
import functools
from datetime import date, datetime, timedelta, timezone, tzinfo
from typing import Any

from nbsched.executors.base import is_coroutine_callable
from nbsched.job import check_callable_args
from nbsched.schedulers.base import undefined
from nbsched.schedulers.config import as_bool
from nbsched.serialization import callable_name, obj_to_ref, ref_to_obj
from nbsched.timezones import as_timezone, datetime_ceil, datetime_repr, normalize, to_datetime
from nbsched.timezones import utc_add as datetime_utc_add

__all__ = [
    "asbool",
    "asdate",
    "asint",
    "astimezone",
    "check_callable_args",
    "convert_to_datetime",
    "datetime_ceil",
    "datetime_repr",
    "datetime_to_utc_timestamp",
    "datetime_utc_add",
    "get_callable_name",
    "iscoroutinefunction_partial",
    "localize",
    "maybe_ref",
    "normalize",
    "obj_to_ref",
    "ref_to_obj",
    "timedelta_seconds",
    "timezone_repr",
    "undefined",
    "utc_timestamp_to_datetime",
]

def asint(text: Any) -> int | None:
    """``int(text)``, with ``None`` passed through (configuration values may be absent)."""
    return None if text is None else int(text)


def asbool(obj: Any) -> bool:
    """Read a configuration value as a boolean; strings such as ``"yes"``/``"off"`` count."""
    return as_bool(obj, "value")


def astimezone(obj: Any) -> tzinfo | None:
    """A time zone from a name or ``tzinfo`` (pytz zones become zoneinfo); ``None`` stays."""
    if obj is None:
        return None
    if not isinstance(obj, (str, tzinfo)):
        raise TypeError(f"Expected tzinfo, got {type(obj).__name__} instead")
    if isinstance(obj, str):
        return as_timezone(obj)
    zone = getattr(obj, "zone", None)
    if zone is None and hasattr(obj, "_offset") and hasattr(obj, "localize"):
        return timezone(obj._offset)  # a pytz fixed offset has no name
    return as_timezone(obj)


def asdate(obj: Any) -> Any:
    """A ``date`` from an ISO string; anything else is returned unchanged."""
    return date.fromisoformat(obj) if isinstance(obj, str) else obj


def convert_to_datetime(input: Any, tz: Any, arg_name: str) -> datetime | None:
    """An aware datetime from a datetime, date or ISO string; naive input is read in ``tz``."""
    return to_datetime(input, tz, arg_name)


def datetime_to_utc_timestamp(timeval: datetime | None) -> float | None:
    """POSIX timestamp of an aware datetime (naive ones are read as UTC); ``None`` stays."""
    if timeval is None:
        return None
    return calendar.timegm(timeval.utctimetuple()) + timeval.microsecond / 1_000_000


def utc_timestamp_to_datetime(timestamp: float | None) -> datetime | None:
    """The UTC datetime of a POSIX timestamp; ``None`` stays."""
    return None if timestamp is None else datetime.fromtimestamp(timestamp, timezone.utc)


def timedelta_seconds(delta: timedelta) -> float:
    """A timedelta as float seconds."""
    return delta.total_seconds()


def timezone_repr(tz: tzinfo) -> str:
    """The IANA key of a zoneinfo zone, else ``repr(tz)``."""
    key = getattr(tz, "key", None)
    return key if key else repr(tz)


def get_callable_name(func: Any) -> str:
    """The display name of a callable (``Class.method`` for bound methods)."""
    if not callable(func):
        raise TypeError(f"Unable to determine a name for {func!r} -- maybe it is not a callable?")
    return callable_name(func)


def maybe_ref(ref: Any) -> Any:
    """Resolve ``"module:name"`` text to the object it names; other values pass through."""
    return ref_to_obj(ref) if isinstance(ref, str) else ref


def iscoroutinefunction_partial(f: Any) -> bool:
    """Whether ``f`` (seen through any ``functools.partial`` layers) is a coroutine function."""
    while isinstance(f, functools.partial):
        f = f.func
    return is_coroutine_callable(f)


def localize(dt: datetime, tzinfo: tzinfo) -> datetime:
    """Attach a zone to a naive wall time (pytz zones through their ``localize``); a wall
    time inside a DST gap becomes the instant it denotes."""
    if hasattr(tzinfo, "localize"):
        return tzinfo.localize(dt)
    return normalize(dt.replace(tzinfo=tzinfo))
