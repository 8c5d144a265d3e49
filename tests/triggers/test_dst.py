"""Interval and calendar-interval triggers across DST changes in Europe/Berlin,
America/New_York and Australia/Lord_Howe (whose clocks move by 30 minutes).

The interval trigger counts elapsed time, so its wall-clock readings shift by the size
of the DST change; the calendar-interval trigger keeps the wall-clock time, skips a day
whose time falls into a spring-forward gap and fires once (at the first occurrence) on a
day whose time happens twice. Every expectation is also checked against APScheduler.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone, tzinfo
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from firetimes import chain

from nbsched.triggers.calendarinterval import CalendarIntervalTrigger
from nbsched.triggers.date import DateTrigger
from nbsched.triggers.interval import IntervalTrigger

aps_interval = pytest.importorskip("apscheduler.triggers.interval")
aps_calendar = pytest.importorskip("apscheduler.triggers.calendarinterval")

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")


def readings(times):
    """Wall time with offset: '2026-03-29T03:00:00+02:00' shows both reading and instant."""
    return [t.isoformat() for t in times]


def interval_case(zone, start, count, **units):
    ours = IntervalTrigger(start_date=start, timezone=zone, **units)
    theirs = aps_interval.IntervalTrigger(start_date=start, timezone=zone, **units)
    got = chain(ours, count, start)
    assert readings(got) == readings(chain(theirs, count, start))
    return got


# --- interval: elapsed time ---------------------------------------------------------
@pytest.mark.parametrize(
    ("zone", "start", "units", "expected"),
    [
        (  # Berlin spring forward: 02:00 CET -> 03:00 CEST
            BERLIN, datetime(2026, 3, 29, 0, 0), {"hours": 1},
            ["2026-03-29T00:00:00+01:00", "2026-03-29T01:00:00+01:00",
             "2026-03-29T03:00:00+02:00", "2026-03-29T04:00:00+02:00"],
        ),
        (  # Berlin fall back: 03:00 CEST -> 02:00 CET, the 02:00 hour happens twice
            BERLIN, datetime(2026, 10, 25, 1, 0), {"hours": 1},
            ["2026-10-25T01:00:00+02:00", "2026-10-25T02:00:00+02:00",
             "2026-10-25T02:00:00+01:00", "2026-10-25T03:00:00+01:00"],
        ),
        (  # 24 hours is not "the same time tomorrow" across a change
            BERLIN, datetime(2026, 3, 28, 9, 0), {"days": 1},
            ["2026-03-28T09:00:00+01:00", "2026-03-29T10:00:00+02:00",
             "2026-03-30T10:00:00+02:00"],
        ),
        (  # New York spring forward: 02:00 EST -> 03:00 EDT
            NEW_YORK, datetime(2026, 3, 8, 1, 0), {"minutes": 30},
            ["2026-03-08T01:00:00-05:00", "2026-03-08T01:30:00-05:00",
             "2026-03-08T03:00:00-04:00", "2026-03-08T03:30:00-04:00"],
        ),
        (  # New York fall back: 01:00-02:00 happens twice
            NEW_YORK, datetime(2026, 11, 1, 0, 30), {"minutes": 45},
            ["2026-11-01T00:30:00-04:00", "2026-11-01T01:15:00-04:00",
             "2026-11-01T01:00:00-05:00", "2026-11-01T01:45:00-05:00"],
        ),
        (  # Lord Howe spring forward by 30 minutes: 02:00 -> 02:30
            LORD_HOWE, datetime(2026, 10, 4, 1, 0), {"hours": 1},
            ["2026-10-04T01:00:00+10:30", "2026-10-04T02:30:00+11:00",
             "2026-10-04T03:30:00+11:00"],
        ),
        (  # Lord Howe fall back by 30 minutes: 01:30-02:00 happens twice
            LORD_HOWE, datetime(2026, 4, 5, 0, 0), {"hours": 1},
            ["2026-04-05T00:00:00+11:00", "2026-04-05T01:00:00+11:00",
             "2026-04-05T01:30:00+10:30", "2026-04-05T02:30:00+10:30"],
        ),
    ],
)  # fmt: skip
def test_interval_counts_elapsed_time(zone, start, units, expected):
    got = interval_case(zone, start.replace(tzinfo=zone), len(expected), **units)
    assert readings(got) == expected
    steps = {b.astimezone(UTC) - a.astimezone(UTC) for a, b in pairwise(got)}
    assert steps == {timedelta(**units)}


def test_interval_second_pass_of_a_repeated_hour_carries_fold():
    start = datetime(2026, 10, 25, 2, 30, tzinfo=BERLIN)  # first 02:30 (CEST)
    trigger = IntervalTrigger(hours=1, start_date=start)
    second = trigger.get_next_fire_time(start, start)
    assert (second.hour, second.minute, second.fold) == (2, 30, 1)
    assert second.utcoffset() == timedelta(hours=1)


def test_interval_start_inside_a_gap_is_the_instant_it_denotes():
    trigger = IntervalTrigger(hours=1, start_date="2026-03-29 02:30:00", timezone="Europe/Berlin")
    assert trigger.start_date.isoformat() == "2026-03-29T03:30:00+02:00"
    theirs = aps_interval.IntervalTrigger(
        hours=1, start_date="2026-03-29 02:30:00", timezone="Europe/Berlin"
    )
    now = datetime(2026, 3, 29, tzinfo=UTC)
    assert readings(chain(trigger, 3, now)) == readings(chain(theirs, 3, now))


def test_interval_backlog_across_a_change_counts_elapsed_time():
    start = datetime(2026, 10, 25, 0, 0, tzinfo=BERLIN)
    trigger = IntervalTrigger(minutes=30, start_date=start)
    latest, total = trigger.fire_times_through(start, datetime(2026, 10, 25, 4, tzinfo=BERLIN), 3)
    assert total == 11  # four hours on the wall clock, five elapsed: 11 half-hour marks
    assert readings(latest) == [
        "2026-10-25T03:00:00+01:00",
        "2026-10-25T03:30:00+01:00",
        "2026-10-25T04:00:00+01:00",
    ]


# --- calendar interval: wall-clock time -----------------------------------------------
def calendar_case(zone, start_date, count, **kwargs):
    ours = CalendarIntervalTrigger(start_date=start_date, timezone=zone, **kwargs)
    theirs = aps_calendar.CalendarIntervalTrigger(start_date=start_date, timezone=zone, **kwargs)
    now = datetime.fromisoformat(start_date).replace(tzinfo=zone)
    got = chain(ours, count, now)
    assert readings(got) == readings(chain(theirs, count, now))
    return got


@pytest.mark.parametrize(
    ("zone", "start_date", "clock", "expected"),
    [
        (  # 02:30 does not exist on 2026-03-29 in Berlin: that day is skipped
            BERLIN, "2026-03-28", {"hour": 2, "minute": 30},
            ["2026-03-28T02:30:00+01:00", "2026-03-30T02:30:00+02:00"],
        ),
        (  # 02:30 happens twice on 2026-10-25: fire once, at the first (CEST)
            BERLIN, "2026-10-24", {"hour": 2, "minute": 30},
            ["2026-10-24T02:30:00+02:00", "2026-10-25T02:30:00+02:00",
             "2026-10-26T02:30:00+01:00"],
        ),
        (  # the same wall time every day, whatever the offset
            BERLIN, "2026-03-28", {"hour": 9},
            ["2026-03-28T09:00:00+01:00", "2026-03-29T09:00:00+02:00",
             "2026-03-30T09:00:00+02:00"],
        ),
        (
            NEW_YORK, "2026-03-07", {"hour": 2, "minute": 15},
            ["2026-03-07T02:15:00-05:00", "2026-03-09T02:15:00-04:00"],
        ),
        (
            NEW_YORK, "2026-10-31", {"hour": 1, "minute": 30},
            ["2026-10-31T01:30:00-04:00", "2026-11-01T01:30:00-04:00",
             "2026-11-02T01:30:00-05:00"],
        ),
        (  # Lord Howe's gap is 02:00-02:30: 02:15 is skipped on 2026-10-04 ...
            LORD_HOWE, "2026-10-03", {"hour": 2, "minute": 15},
            ["2026-10-03T02:15:00+10:30", "2026-10-05T02:15:00+11:00"],
        ),
        (  # ... but 02:45 exists that day
            LORD_HOWE, "2026-10-03", {"hour": 2, "minute": 45},
            ["2026-10-03T02:45:00+10:30", "2026-10-04T02:45:00+11:00",
             "2026-10-05T02:45:00+11:00"],
        ),
        (  # 01:30-02:00 happens twice on 2026-04-05: 01:45 fires once, at the first
            LORD_HOWE, "2026-04-04", {"hour": 1, "minute": 45},
            ["2026-04-04T01:45:00+11:00", "2026-04-05T01:45:00+11:00",
             "2026-04-06T01:45:00+10:30"],
        ),
    ],
)  # fmt: skip
def test_calendar_interval_keeps_wall_time(zone, start_date, clock, expected):
    got = calendar_case(zone, start_date, 3, days=1, **clock)
    assert readings(got)[: len(expected)] == expected


def test_calendar_interval_monthly_skips_only_the_gap_month():
    # 02:30 on the last Sunday of March 2026 (the 29th) does not exist in Berlin.
    got = calendar_case(BERLIN, "2026-01-29", 4, months=1, hour=2, minute=30)
    assert readings(got) == [
        "2026-01-29T02:30:00+01:00",
        "2026-04-29T02:30:00+02:00",  # Feb 29 does not exist in 2026; Mar 29 02:30 neither
        "2026-05-29T02:30:00+02:00",
        "2026-06-29T02:30:00+02:00",
    ]


def test_calendar_interval_first_fire_time_from_inside_a_repeated_hour():
    trigger = CalendarIntervalTrigger(days=1, hour=2, minute=30, start_date="2026-10-20",
                                      timezone="Europe/Berlin")  # fmt: skip
    # Now is the second 02:15 (CET): today's 02:30 already fired at its first occurrence,
    # which is in the past, so the next upcoming one is tomorrow's. (A new job's first
    # call answers start_date, as in APScheduler; preview shows what is upcoming.)
    now = datetime(2026, 10, 25, 2, 15, fold=1, tzinfo=BERLIN)
    [upcoming] = trigger.preview(1, now)
    assert upcoming.isoformat() == "2026-10-26T02:30:00+01:00"
    previous = datetime(2026, 10, 25, 2, 30, tzinfo=BERLIN)
    assert trigger.get_next_fire_time(previous, now).isoformat() == "2026-10-26T02:30:00+01:00"


class _MidnightGapZone(tzinfo):
    """A zone whose clocks jump from 23:30 on 2026-06-01 to 00:30 on 2026-06-02.

    No current tzdata zone has a spring-forward gap that spans midnight, so this one is
    made up to pin the rule for it.
    """

    _switch = datetime(2026, 6, 1, 23, 30)  # UTC == local before the switch

    def utcoffset(self, dt):
        if dt is None:
            return None
        wall = dt.replace(tzinfo=None, fold=0)
        if wall < self._switch:
            return timedelta(0)
        if wall >= self._switch + timedelta(hours=1):
            return timedelta(hours=1)
        return timedelta(hours=1) if dt.fold else timedelta(0)  # inside the gap

    def dst(self, dt):
        return self.utcoffset(dt)

    def tzname(self, dt):
        return "GAP"

    def fromutc(self, dt):
        wall = dt.replace(tzinfo=None)
        shift = timedelta(0) if wall < self._switch else timedelta(hours=1)
        return (wall + shift).replace(tzinfo=self)


def test_calendar_interval_continues_from_the_skipped_date_when_a_gap_spans_midnight():
    zone = _MidnightGapZone()
    kwargs = {"days": 2, "hour": 23, "minute": 45, "start_date": "2026-05-30", "timezone": zone}
    ours = CalendarIntervalTrigger(**kwargs)
    now = datetime(2026, 5, 30, tzinfo=UTC)
    # 23:45 on June 1 does not exist: skipped, and the schedule goes on from June 1.
    assert [t.date().isoformat() for t in chain(ours, 3, now)] == [
        "2026-05-30",
        "2026-06-03",
        "2026-06-05",
    ]
    # APScheduler continues from the date 23:45 normalises to (June 2): one day later.
    theirs = aps_calendar.CalendarIntervalTrigger(**kwargs)
    assert [t.date().isoformat() for t in chain(theirs, 2, now)] == ["2026-05-30", "2026-06-04"]


def test_triggers_at_the_two_readings_of_a_repeated_time_differ():
    first = datetime(2026, 10, 25, 2, 30, tzinfo=BERLIN)
    second = first.replace(fold=1)
    assert DateTrigger(first) != DateTrigger(second)
    assert IntervalTrigger(hours=1, start_date=first) != IntervalTrigger(
        hours=1, start_date=second
    )
    assert DateTrigger(first) == DateTrigger(first.replace())
