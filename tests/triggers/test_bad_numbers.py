"""Issue 11, points 9 and 10, the named cases: numbers that break arithmetic are rejected
up front with a ValueError naming the argument (never an OverflowError, never a later
failure inside ``get_next_fire_time``), and one AND/OR query has one bound, however deep
the nesting. The fuzz suite (tests/reliability/test_fuzz_inputs.py) covers the rest.

CPU time of the calling thread is measured, so a busy machine cannot fail a bound.
"""

from __future__ import annotations

import logging
import math
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from nbsched.triggers import combining
from nbsched.triggers.base import MAX_JITTER, BaseTrigger
from nbsched.triggers.calendarinterval import CalendarIntervalTrigger
from nbsched.triggers.combining import AndTrigger, OrTrigger
from nbsched.triggers.cron import CronTrigger
from nbsched.triggers.date import DateTrigger
from nbsched.triggers.interval import IntervalTrigger

UTC = timezone.utc
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
cpu = getattr(time, "thread_time", time.process_time)


# --- point 9: OverflowError, NaN and foreign digits -------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"seconds": math.inf}, "seconds"),
        ({"minutes": -math.inf}, "minutes"),
        ({"hours": math.nan}, "hours"),
        ({"weeks": math.inf}, "weeks"),
        ({"days": 10**9}, "days"),
        ({"weeks": 10**20}, "weeks"),
        ({"seconds": 99999999999999999999}, "seconds"),
        ({"seconds": 1e308}, "seconds"),
        ({"weeks": 10**8, "days": 999_999_999}, "days"),
        ({"days": 10**8}, "days"),  # fits a timedelta, but now + interval is past 9999
        ({"hours": 1e-239}, "hours"),
        ({"seconds": 1, "jitter": math.inf}, "jitter"),
        ({"seconds": 1, "jitter": 1e12}, "jitter"),
        ({"seconds": 1, "jitter": math.nan}, "jitter"),
        ({"seconds": 1, "jitter": MAX_JITTER + 1}, "jitter"),
    ],
)
def test_interval_rejects_numbers_that_break_arithmetic(kwargs: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        IntervalTrigger(timezone="UTC", **kwargs)


def test_interval_edges_still_work() -> None:
    # The longest interval a timedelta holds, from an explicit start: fires once.
    longest = IntervalTrigger(days=999_999_999, start_date=NOW, timezone="UTC")
    assert longest.get_next_fire_time(None, NOW) == NOW
    assert longest.get_next_fire_time(NOW, NOW) is None
    assert IntervalTrigger(seconds=1, jitter=MAX_JITTER, timezone="UTC").jitter == MAX_JITTER
    # A jitter that would run past year 9999 runs at the aimed time instead of failing.
    late = IntervalTrigger(hours=1, start_date="9999-12-31 22:00", jitter=MAX_JITTER,
                           timezone="UTC")
    assert late.get_next_fire_time(None, NOW) is not None


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"weeks": 10**9}, "weeks"),
        ({"days": 10**9}, "days"),
        ({"weeks": 10**8, "days": 999_999_999}, "weeks"),
        ({"days": 1, "jitter": math.inf}, "jitter"),
        ({"days": 1, "jitter": 1e12}, "jitter"),
        ({"days": 1, "jitter": math.nan}, "jitter"),
        ({"days": 1, "hour": math.nan}, "hour"),
        ({"days": math.inf}, "days"),
    ],
)
def test_calendar_interval_rejects_numbers_that_break_arithmetic(kwargs: dict, field: str):
    with pytest.raises((ValueError, TypeError), match=field):
        CalendarIntervalTrigger(timezone="UTC", **kwargs)


def test_calendar_interval_with_huge_counts_just_ends() -> None:
    for kwargs in ({"years": 10**20}, {"months": 10**20}, {"days": 999_999_999}):
        trigger = CalendarIntervalTrigger(start_date="2026-12-01", timezone="UTC", **kwargs)
        first = trigger.get_next_fire_time(None, NOW)
        assert first == datetime(2026, 12, 1, tzinfo=UTC)
        assert trigger.get_next_fire_time(first, NOW) is None


@pytest.mark.parametrize("digit", ["\u0662", "\uff12", "\u00b2", "\u0968", "1\u0662"])
def test_cron_fields_take_ascii_digits_only(digit: str) -> None:
    # int() reads Arabic-Indic, full-width and Devanagari digits; cron fields do not.
    for field in ("hour", "minute", "day", "month", "year", "week", "day_of_week"):
        with pytest.raises(ValueError, match=field):
            CronTrigger(timezone="UTC", **{field: digit})
    with pytest.raises(ValueError, match="hour"):
        CronTrigger(hour=f"*/{digit}", timezone="UTC")
    with pytest.raises(ValueError, match="minute"):
        CronTrigger.from_crontab(f"{digit} * * * *", timezone="UTC")
    with pytest.raises(ValueError, match="minute"):
        CronTrigger.from_crontab(f"1-5/{digit} * * * *", timezone="UTC")
    with pytest.raises(ValueError, match="day_of_week"):
        CronTrigger.from_crontab(f"* * * * {digit}", timezone="UTC")


def test_cron_names_are_ascii() -> None:
    # Case-insensitive matching must not read the long s as "s" or the Kelvin sign as "k".
    with pytest.raises(ValueError, match="month"):
        CronTrigger(month="\u017fep", timezone="UTC")
    assert str(CronTrigger(month="SEP", timezone="UTC")) == "cron[month='sep']"


@pytest.mark.parametrize("jitter", [math.inf, 1e12, math.nan, -1, 1.8e16])
def test_cron_and_combining_reject_bad_jitter(jitter: float) -> None:
    with pytest.raises(ValueError, match="jitter"):
        CronTrigger(hour=1, timezone="UTC", jitter=jitter)
    with pytest.raises(ValueError, match="jitter"):
        CronTrigger.from_crontab("0 1 * * *", timezone="UTC", jitter=jitter)
    member = CronTrigger(hour=1, timezone="UTC")
    with pytest.raises(ValueError, match="jitter"):
        AndTrigger([member], jitter=jitter)
    with pytest.raises(ValueError, match="jitter"):
        OrTrigger([member], jitter=jitter)


@pytest.mark.parametrize(
    "run_date", ["\u0662\u0660\u0662\u0666-12-01", "2026-12-01 \u0660\u0669:00",
                 "2026-12-01 09:00+99:99", "2026-12-01T09:00:00-24:00"],
)
def test_date_strings_take_ascii_digits_and_real_offsets(run_date: str) -> None:
    with pytest.raises(ValueError, match="run_date"):
        DateTrigger(run_date, timezone="UTC")


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan, 1e300, 10**20])
def test_add_job_rejects_misfire_grace_time_that_breaks_arithmetic(value: float) -> None:
    from nbsched.schedulers.background import BackgroundScheduler

    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.start(paused=True)
    try:
        with pytest.raises((ValueError, TypeError), match="misfire_grace_time"):
            scheduler.add_job(print, "interval", minutes=5, misfire_grace_time=value)
        job = scheduler.add_job(print, "interval", minutes=5, misfire_grace_time=3600)
        with pytest.raises((ValueError, TypeError), match="misfire_grace_time"):
            job.modify(misfire_grace_time=value)
    finally:
        scheduler.shutdown(wait=False)


# --- cron schedules that never match: known within 400 years, not 8,000 ----------------
@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin"])
@pytest.mark.parametrize(
    "fields",
    [{"day": 2, "week": 2}, {"minute": "*", "week": 11, "month": 11}, {"day": 31, "month": 2},
     {"day": "5th mon", "month": 2, "year": "2027-2035"}],
)
def test_cron_schedule_that_never_matches_ends_fast(zone: str, fields: dict) -> None:
    trigger = CronTrigger(timezone=zone, **fields)
    for now in (NOW, datetime(2026, 3, 29, 1, 30, tzinfo=UTC), datetime(2026, 10, 25, tzinfo=UTC)):
        start = cpu()
        assert trigger.get_next_fire_time(None, now) is None
        assert cpu() - start < 0.05


def test_rare_cron_schedules_still_found() -> None:
    # Feb 29 on a Monday: 2044, then 2072 (the year residue cache must not skip them).
    trigger = CronTrigger(month=2, day=29, day_of_week="mon", timezone="Europe/Berlin")
    first = trigger.get_next_fire_time(None, NOW)
    assert first == datetime(2044, 2, 29, tzinfo=first.tzinfo)
    second = trigger.get_next_fire_time(first, first)
    assert (second.year, second.month, second.day) == (2072, 2, 29)


# --- point 10: one bound per query, whatever the nesting --------------------------------
def _nested(depth: int) -> Any:
    trigger: Any = IntervalTrigger(seconds=7, start_date=NOW, timezone="UTC")
    for level in range(depth):
        other = IntervalTrigger(seconds=11 + level, start_date=NOW + timedelta(seconds=3),
                                timezone="UTC")
        trigger = AndTrigger([trigger, other, CronTrigger(second=59 - level, timezone="UTC")])
    return trigger


@pytest.mark.parametrize("depth", [2, 3, 5, 8])
def test_nested_and_has_one_bound(depth: int, caplog) -> None:
    # Inner members want second 59, outer ones 58: they never agree. Before: ~4 s per
    # query (the bound applied per level); now one bound for the whole tree.
    trigger = _nested(depth)
    with caplog.at_level(logging.WARNING, logger="nbsched.triggers.combining"):
        start = cpu()
        assert trigger.get_next_fire_time(None, NOW) is None
        assert cpu() - start < 0.1
        start = cpu()
        assert trigger.preview(1, NOW) == []
        assert cpu() - start < 0.1
    warnings = [r for r in caplog.records if r.name == "nbsched.triggers.combining"]
    assert len(warnings) == 2  # one per query, from the outermost trigger only
    assert warnings[0].getMessage().startswith(str(trigger))


def test_nested_and_that_agrees_still_answers() -> None:
    assert _nested(1).get_next_fire_time(None, NOW) == datetime(2026, 12, 1, 12, 57, 59,
                                                                tzinfo=UTC)
    inner = AndTrigger([CronTrigger(minute="*/10", timezone="UTC"),
                        CronTrigger(minute="*/15", timezone="UTC")])
    outer = AndTrigger([inner, CronTrigger(hour="*/2", minute="*/6", timezone="UTC")])
    assert outer.get_next_fire_time(None, NOW) == datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    assert outer.get_next_fire_time(NOW, NOW) == datetime(2026, 12, 1, 12, 30, tzinfo=UTC)


def test_or_of_nested_ands_shares_the_bound(caplog) -> None:
    trigger = OrTrigger([_nested(3), _nested(4), _nested(2)])
    with caplog.at_level(logging.WARNING, logger="nbsched.triggers.combining"):
        start = cpu()
        assert trigger.get_next_fire_time(None, NOW) is None
        assert cpu() - start < 0.1
    [warning] = [r for r in caplog.records if r.name == "nbsched.triggers.combining"]
    assert warning.getMessage().startswith("or[")


def test_a_wide_or_is_not_cut_short(caplog) -> None:
    # 3,000 members, more than the step bound: an OR asks each once, all count.
    members = [IntervalTrigger(seconds=1 + k, start_date=NOW + timedelta(seconds=k),
                               timezone="UTC") for k in range(3000)]
    with caplog.at_level(logging.WARNING, logger="nbsched.triggers.combining"):
        assert OrTrigger(members).get_next_fire_time(None, NOW) == NOW
    assert not caplog.records


def test_bound_is_per_query_not_per_process() -> None:
    trigger = _nested(3)
    for _ in range(3):  # a spent search does not leak into the next query
        assert trigger.get_next_fire_time(None, NOW) is None
    assert _nested(1).get_next_fire_time(None, NOW) is not None


class _Slow(BaseTrigger):
    """A custom trigger whose every answer costs 2 ms of CPU and never meets the other."""

    def __init__(self, offset: int) -> None:
        self.offset = offset

    def get_next_fire_time(self, previous_fire_time, now):
        end = cpu() + 0.002
        while cpu() < end:
            pass
        base = (previous_fire_time or now).replace(microsecond=0)
        seconds = base.second + 1
        return base + timedelta(seconds=(seconds // 2 * 2 + self.offset) - base.second)


def test_slow_members_hit_the_cpu_bound(caplog) -> None:
    trigger = AndTrigger([_Slow(0), _Slow(1)])
    with caplog.at_level(logging.WARNING, logger="nbsched.triggers.combining"):
        start = cpu()
        assert trigger.get_next_fire_time(None, NOW) is None
        assert cpu() - start < 0.1
    assert "CPU bound" in caplog.records[-1].getMessage()
    assert combining.MAX_SEARCH_SECONDS < 0.1


def test_a_years_days_follow_from_its_kind() -> None:
    # CronTrigger._year_alive keys a year by (weekday of January 1, leap, previous year
    # leap): every month's matching days, ISO weeks included, must follow from that.
    from calendar import isleap
    from datetime import date

    for trigger in (CronTrigger(week="1,52,53", day="1-3,29-31", timezone="UTC"),
                    CronTrigger(day="last fri", week="9,53", timezone="UTC")):
        seen: dict = {}
        for year in range(1970, 2771):  # two full 400-year cycles
            kind = (date(year, 1, 1).weekday(), isleap(year), isleap(year - 1))
            days = tuple(trigger._days(year, month) for month in range(1, 13))
            assert seen.setdefault(kind, days) == days, (trigger, year)
