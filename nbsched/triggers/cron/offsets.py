"""Which local days of a zone hold a UTC offset change (the cron trigger's DST guard).

The cron trigger's fast search answers in wall-clock time, which is exact under every
DST rule as long as no offset change lies between the start of the search and the
answer. This module tells it where the changes are: for a zone and a year, the
ordinals of the local days that hold one, found by sampling the offset at the
midnights of the 1st and 16th of every month and bisecting between samples that
differ. A day is marked when its two midnights have different offsets, or one of them
is ambiguous or missing; a marked day only sends the trigger to its exact, slower
search, so marking too much would cost a little time and never a wrong answer. A zone
that changed its offset and changed it back within one sampling interval (15 days)
would go unnoticed; tzdata has no such zone in the years a schedule can reach (the
shortest modern DST period, Morocco's Ramadan suspension, lasts about five weeks).

The answer depends only on the zone, so it is cached per (zone, year) for the
process, shared by every trigger.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import date, datetime, timedelta, tzinfo

__all__ = ["day_offset", "unclean_days"]

# (zone, year) -> (sorted unclean ordinals, the same as a set, ordinals where the midnight
# offset takes a new value, those values)
_CACHE: dict[tuple[tzinfo, int], tuple[tuple[int, ...], frozenset, tuple[int, ...], tuple]] = {}
_CACHE_LIMIT = 65_536


def _info(tz: tzinfo, year: int) -> tuple[tuple[int, ...], frozenset, tuple[int, ...], tuple]:
    key = (tz, year)
    info = _CACHE.get(key)
    if info is None:
        info = _find(tz, year)
        if len(_CACHE) >= _CACHE_LIMIT:
            _CACHE.clear()
        _CACHE[key] = info
    return info


def unclean_days(tz: tzinfo, year: int) -> tuple[int, ...]:
    """Sorted ordinals of the days of ``year`` (local) near an offset change."""
    return _info(tz, year)[0]


def day_offset(tz: tzinfo, year: int, ordinal: int) -> timedelta | None:
    """The UTC offset all through local day ``ordinal`` (in ``year``), or None for a day
    near an offset change."""
    _, day_set, starts, offsets = _info(tz, year)
    if ordinal in day_set:
        return None
    return offsets[bisect_right(starts, ordinal) - 1]


def _midnight_offsets(tz: tzinfo, ordinal: int) -> tuple:
    day = date.fromordinal(ordinal)
    midnight = datetime(day.year, day.month, day.day, tzinfo=tz)
    return (tz.utcoffset(midnight), tz.utcoffset(midnight.replace(fold=1)))


def _find(tz: tzinfo, year: int) -> tuple[tuple[int, ...], frozenset, tuple[int, ...], tuple]:
    first, last = date(year, 1, 1).toordinal(), date(year, 12, 31).toordinal()
    samples = [date(year, month, day).toordinal() for month in range(1, 13) for day in (1, 16)]
    # Reach into the neighbouring years so that changes next to New Year are seen.
    if year > 1:
        samples.insert(0, first - 16)
    if year < 9999:
        samples.extend((last + 1, last + 16))
    marked: set[int] = set()
    low = samples[0]
    low_value = _midnight_offsets(tz, low)
    starts, offsets = [low], [low_value[0]]
    if low_value[0] != low_value[1]:  # the offset changes at this very midnight
        marked.update((low - 1, low))
    for high in samples[1:]:
        high_value = _midnight_offsets(tz, high)
        while low_value != high_value:
            # The first midnight after ``low`` whose offsets differ from ``low``'s.
            a, b = low, high
            while b - a > 1:
                middle = (a + b) // 2
                if _midnight_offsets(tz, middle) == low_value:
                    a = middle
                else:
                    b = middle
            # The change lies in day b-1 (or at its end); if midnight b itself is
            # ambiguous or missing, day b starts with it too.
            low, low_value = b, _midnight_offsets(tz, b)
            marked.add(b - 1)
            if low_value[0] != low_value[1]:
                marked.add(b)
            starts.append(b)
            offsets.append(low_value[0])
        low, low_value = high, high_value
    days = tuple(sorted(day for day in marked if first <= day <= last))
    return days, frozenset(days), tuple(starts), tuple(offsets)
