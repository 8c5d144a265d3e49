"""Time-zone and datetime helpers shared by triggers, jobs and schedulers.

Every wall-clock computation in nbsched goes through this module so that the rules
(zoneinfo for named zones, tzlocal for the default, how naive values and strings are
interpreted, how nonexistent wall times are resolved) live in exactly one place.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tzlocal import get_localzone

__all__ = [
    "as_timezone",
    "datetime_ceil",
    "datetime_repr",
    "local_timezone",
    "localize",
    "normalize",
    "real_wall_time",
    "timezone_name",
    "to_datetime",
    "trigger_timezone",
    "usable_local_zone",
    "utc_add",
]

_ISO_LIKE = re.compile(
    r"(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})"
    r"(?:[ T](?P<hour>\d{1,2}):(?P<minute>\d{1,2})(?::(?P<second>\d{1,2})"
    r"(?:\.(?P<microsecond>\d{1,6}))?)?"
    r"(?P<offset>Z|[+-]\d\d:?\d\d)?)?$",
    re.ASCII,  # \d would also take other scripts' digits, which int() reads
)


def local_timezone() -> tzinfo:
    """Return the machine's local zone (via tzlocal), the default for every trigger.

    tzlocal caches its answer for the life of the process, so this is cheap enough for
    the trigger constructors that call it once per job.
    """
    return get_localzone()


def as_timezone(value: str | tzinfo | None) -> tzinfo | None:
    """Interpret ``value`` as a time zone.

    Accepts an IANA name (``"Europe/Berlin"``), ``"UTC"`` or any ``tzinfo``. ``None`` is
    passed through so callers can decide on their own default. pytz-style zones are
    converted to zoneinfo so that plain datetime arithmetic is correct.
    """
    if value is None:
        return None
    if type(value) is ZoneInfo or type(value) is timezone:
        return value  # already usable as is: the common case, kept cheap for add_job
    if isinstance(value, str):
        if value.upper() == "UTC":
            return timezone.utc
        try:
            return ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"timezone: {value!r}: unknown time zone name") from exc
    if isinstance(value, tzinfo):
        if value.tzname(None) == "local":
            raise ValueError(
                "timezone: the local zone has no IANA name here; pass one explicitly, "
                "such as 'Europe/Helsinki'"
            )
        zone_name = getattr(value, "zone", None)  # pytz zones carry their name here
        if zone_name and not isinstance(value, ZoneInfo):
            return ZoneInfo(zone_name)
        return value
    raise TypeError(f"timezone: expected a tzinfo or a zone name, got {type(value).__name__}")


def timezone_name(tz: tzinfo) -> str:
    """A stable, human-readable name for ``tz`` (the IANA key where there is one)."""
    key = getattr(tz, "key", None)
    if key:
        return key
    if tz is timezone.utc:
        return "UTC"
    return str(tz)


def localize(naive: datetime, tz: tzinfo) -> datetime:
    """Attach ``tz`` to a naive wall-clock datetime (zoneinfo needs no pytz-style dance)."""
    return naive.replace(tzinfo=tz)


def normalize(value: datetime) -> datetime:
    """Map a possibly nonexistent wall time onto the real instant it denotes.

    A wall time inside a DST gap (02:30 on a spring-forward night in Berlin) has no
    real instant; converting through the POSIX timestamp moves it forward by the size
    of the gap, which is how every trigger skips nonexistent times.
    """
    return datetime.fromtimestamp(value.timestamp(), value.tzinfo)


def utc_add(value: datetime, delta: timedelta) -> datetime:
    """Add an elapsed-time ``delta`` to a datetime, correct across DST changes.

    An aware result is in ``value``'s zone with the right ``fold`` (plain ``+`` on an
    aware datetime adds wall-clock time and forgets ``fold``). A naive ``value`` has no
    zone to be correct in, so the delta is simply added (as APScheduler does).
    """
    tz = value.tzinfo
    if tz is None:
        return value + delta
    return (value.astimezone(timezone.utc) + delta).astimezone(tz)


def datetime_ceil(value: datetime) -> datetime:
    """Round up to the next whole second (unchanged if already whole); naive or aware."""
    if value.microsecond:
        return utc_add(value, timedelta(seconds=1, microseconds=-value.microsecond))
    return value


def datetime_repr(value: datetime | None) -> str:
    """Format a datetime the way job listings show it."""
    if value is None:
        return "None"
    return value.strftime("%Y-%m-%d %H:%M:%S %Z")


def to_datetime(
    value: datetime | date | str | None, tz: tzinfo | str | None, arg_name: str
) -> datetime | None:
    """Convert ``value`` to an aware datetime, interpreting naive input in ``tz``.

    Accepted: aware or naive datetimes, dates (midnight), and ISO-8601-like strings
    (``2026-12-01``, ``2026-12-01 09:00:00``, ``2026-12-01T09:00:00.5+01:00``, ``...Z``).
    An aware input keeps its own zone. ``arg_name`` names the argument in errors.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        result = value
    elif isinstance(value, date):
        result = datetime.combine(value, time())
    elif isinstance(value, str):
        match = _ISO_LIKE.match(value.strip())
        if not match:
            raise ValueError(
                f"{arg_name}: {value!r}: not a date or date-time (YYYY-MM-DD[ HH:MM[:SS]])"
            )
        parts = match.groupdict()
        offset = parts.pop("offset")
        if parts["microsecond"]:
            parts["microsecond"] = parts["microsecond"].ljust(6, "0")
        try:
            result = datetime(**{k: int(v or 0) for k, v in parts.items()})
        except ValueError as exc:
            raise ValueError(f"{arg_name}: {value!r}: {exc}") from exc
        if offset == "Z":
            result = result.replace(tzinfo=timezone.utc)
        elif offset:
            digits = offset[1:].replace(":", "")
            delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
            if delta >= timedelta(hours=24):
                raise ValueError(f"{arg_name}: {value!r}: UTC offset {offset} out of range")
            result = result.replace(tzinfo=timezone(delta if offset[0] == "+" else -delta))
    else:
        raise TypeError(f"{arg_name}: unsupported type {type(value).__name__}")

    if result.tzinfo is not None:
        return result
    zone = as_timezone(tz)
    if zone is None:
        raise ValueError(f"{arg_name}: a time zone is needed to interpret a naive date-time")
    return localize(result, zone)


def real_wall_time(value: datetime) -> datetime:
    """``value`` itself, or, for a wall time inside a DST gap, the instant it denotes.

    Such a time (02:30 on a spring-forward night) has no reading on any real clock; its
    POSIX timestamp still names one instant (as APScheduler computes it), and showing
    that instant's real wall time (03:30) keeps listings honest. Used by the
    triggers that accept user dates.
    """
    if value.tzinfo is None or value.utcoffset() == value.replace(fold=1 - value.fold).utcoffset():
        return value
    if value.replace(fold=0).utcoffset() < value.replace(fold=1).utcoffset():
        return normalize(value)
    return value


def trigger_timezone(
    timezone: str | tzinfo | None,
    start_date: object,
    end_date: object,
    local: Callable[[], tzinfo] | None = None,
) -> tzinfo:
    """The zone a trigger works in: ``timezone`` if given, else the zone of an aware
    ``start_date`` or ``end_date``, else the local zone (APScheduler 3's rule).

    ``local`` is the local-zone lookup to use (default :func:`local_timezone`); trigger
    modules pass their own module-level ``get_localzone`` so that tests patching it
    there (as APScheduler's do) take effect.
    """
    if timezone:
        return as_timezone(timezone)  # type: ignore[return-value]
    if isinstance(start_date, datetime) and start_date.tzinfo:
        return as_timezone(start_date.tzinfo)  # type: ignore[return-value]
    if isinstance(end_date, datetime) and end_date.tzinfo:
        return as_timezone(end_date.tzinfo)  # type: ignore[return-value]
    if local is None:
        return local_timezone()
    return usable_local_zone(local())


def usable_local_zone(zone: tzinfo) -> tzinfo:
    """A local zone as tzlocal (or a stand-in for it) returned it, made zoneinfo-usable:
    a pytz zone becomes the zoneinfo zone of the same name; anything else is kept."""
    if getattr(zone, "zone", None) and not isinstance(zone, ZoneInfo):
        return as_timezone(zone)  # type: ignore[return-value]
    return zone
