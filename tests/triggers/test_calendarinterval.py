"""CalendarIntervalTrigger: construction, errors, month arithmetic, the first fire time,
end dates, jitter, display, and a differential test against APScheduler 3.11."""

from __future__ import annotations

import inspect
import random
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from firetimes import chain as walk
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from nbsched.timezones import local_timezone
from nbsched.triggers.calendarinterval import CalendarIntervalTrigger

aps_calendar = pytest.importorskip("apscheduler.triggers.calendarinterval")

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
HELSINKI = ZoneInfo("Europe/Helsinki")
EARLY = datetime(2020, 1, 1, tzinfo=UTC)


def chain(trigger, count, now=EARLY):
    return walk(trigger, count, now)


def test_signature_matches_apscheduler():
    ours = inspect.signature(CalendarIntervalTrigger.__init__)
    theirs = inspect.signature(aps_calendar.CalendarIntervalTrigger.__init__)
    assert [(p.name, p.kind, p.default) for p in ours.parameters.values()] == [
        (p.name, p.kind, p.default) for p in theirs.parameters.values()
    ]


def test_defaults():
    trigger = CalendarIntervalTrigger(days=1, timezone="Europe/Berlin")
    assert trigger.start_date == datetime.now(BERLIN).date()
    assert (trigger.hour, trigger.minute, trigger.second) == (0, 0, 0)
    assert CalendarIntervalTrigger(days=1).timezone == local_timezone()
    assert CalendarIntervalTrigger(days=1, timezone="UTC").timezone is UTC


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({}, ValueError, "all zero: the interval must be at least 1 day long"),
        ({"months": -1}, ValueError, "months: -1: must not be negative"),
        ({"days": 1.5}, TypeError, "days: 1.5: expected a whole number"),
        ({"days": 1, "hour": 24}, ValueError, "hour: 24: must be 0-23"),
        ({"days": 1, "minute": -1}, ValueError, "minute: -1: must be 0-59"),
        ({"days": 1, "second": "5"}, TypeError, "second: '5': expected a whole number"),
        ({"days": 1, "start_date": "xyz"}, ValueError, "start_date: 'xyz': not a date"),
        (
            {"days": 1, "start_date": "2026-02-01", "end_date": "2026-01-01"},
            ValueError,
            "end_date: '2026-01-01': end_date cannot be earlier than start_date '2026-02-01'",
        ),
        ({"days": 1, "timezone": "Nowhere/Land"}, ValueError, "timezone: 'Nowhere/Land'"),
        ({"days": 1, "jitter": "x"}, ValueError, "jitter: 'x'"),
    ],
)
def test_bad_input(kwargs, error, message):
    with pytest.raises(error, match=message):
        CalendarIntervalTrigger(**kwargs)


def test_positional_arguments_are_refused_as_in_apscheduler():
    with pytest.raises(TypeError):
        CalendarIntervalTrigger(1)  # type: ignore[misc]


def test_start_date_forms():
    assert CalendarIntervalTrigger(days=1, start_date=date(2026, 5, 1)).start_date == date(
        2026, 5, 1
    )
    aware = datetime(2026, 5, 1, 23, 30, tzinfo=UTC)
    trigger = CalendarIntervalTrigger(days=1, start_date=aware, timezone="Europe/Berlin")
    assert trigger.start_date == date(2026, 5, 2)  # its date in the trigger's zone


def test_nonexistent_days_are_skipped():
    trigger = CalendarIntervalTrigger(months=1, hour=8, start_date="2026-01-31", timezone="UTC")
    assert [t.date() for t in chain(trigger, 5)] == [
        date(2026, 1, 31),
        date(2026, 3, 31),
        date(2026, 5, 31),
        date(2026, 7, 31),
        date(2026, 8, 31),
    ]
    leap = CalendarIntervalTrigger(years=1, start_date="2096-02-29", timezone="UTC")
    assert [t.date() for t in chain(leap, 3)] == [
        date(2096, 2, 29),
        date(2104, 2, 29),  # 2100 is no leap year
        date(2108, 2, 29),
    ]


def test_months_then_days():
    trigger = CalendarIntervalTrigger(months=1, days=2, start_date="2026-01-30", timezone="UTC")
    assert [t.date() for t in chain(trigger, 3)] == [
        date(2026, 1, 30),
        date(2026, 4, 1),  # Feb 30 does not exist -> Mar 30, + 2 days
        date(2026, 5, 3),
    ]


def test_first_fire_time_is_start_date_even_when_past_as_in_apscheduler():
    trigger = CalendarIntervalTrigger(days=3, hour=9, start_date="2026-01-01", timezone="UTC")
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)
    assert trigger.get_next_fire_time(None, now) == datetime(2026, 1, 1, 9, tzinfo=UTC)
    theirs = aps_calendar.CalendarIntervalTrigger(
        days=3, hour=9, start_date="2026-01-01", timezone="UTC"
    )
    assert theirs.get_next_fire_time(None, now) == datetime(2026, 1, 1, 9, tzinfo=UTC)
    # A one-day window in the past still has its one fire time.
    window = CalendarIntervalTrigger(
        days=1, hour=1, start_date="2016-03-31", end_date="2016-03-31", timezone="UTC"
    )
    first = window.get_next_fire_time(None, now)
    assert first == datetime(2016, 3, 31, 1, tzinfo=UTC)
    assert window.get_next_fire_time(first, now) is None


def test_preview_shows_the_fire_times_not_before_now():
    trigger = CalendarIntervalTrigger(days=3, hour=9, start_date="2026-01-01", timezone="UTC")
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)
    assert trigger.preview(2, now) == [
        datetime(2026, 6, 3, 9, tzinfo=UTC),
        datetime(2026, 6, 6, 9, tzinfo=UTC),
    ]
    at_a_fire_time = datetime(2026, 6, 3, 9, tzinfo=UTC)
    assert trigger.preview(1, at_a_fire_time) == [at_a_fire_time]


def test_preview_far_from_start_is_quick():
    trigger = CalendarIntervalTrigger(months=1, days=1, start_date="1970-01-31", timezone="UTC")
    [fire_time] = trigger.preview(1, datetime(2026, 1, 1, tzinfo=UTC))
    assert fire_time >= datetime(2026, 1, 1, tzinfo=UTC)
    every_day = CalendarIntervalTrigger(days=1, hour=5, start_date="1900-01-01", timezone="UTC")
    assert every_day.preview(1, datetime(9000, 1, 1, 6, tzinfo=UTC)) == [
        datetime(9000, 1, 2, 5, tzinfo=UTC)
    ]


def test_previous_fire_time_wins_over_now():
    trigger = CalendarIntervalTrigger(weeks=1, start_date="2026-01-05", timezone="UTC")
    previous = datetime(2026, 1, 5, tzinfo=UTC)
    later = datetime(2026, 3, 1, tzinfo=UTC)
    assert trigger.get_next_fire_time(previous, later) == datetime(2026, 1, 12, tzinfo=UTC)


def test_end_date_is_inclusive_and_year_9999_ends_the_schedule():
    trigger = CalendarIntervalTrigger(
        days=1, start_date="2026-01-01", end_date="2026-01-03", timezone="UTC"
    )
    assert [t.day for t in chain(trigger, 10)] == [1, 2, 3]
    last = CalendarIntervalTrigger(years=1, start_date="9999-06-01", timezone="UTC")
    assert chain(last, 3) == [datetime(9999, 6, 1, tzinfo=UTC)]
    assert last.preview(1, datetime(9999, 7, 1, tzinfo=UTC)) == []


def test_jitter_delays_within_bounds_and_keeps_the_dates():
    random.seed(7)
    trigger = CalendarIntervalTrigger(
        days=1, hour=23, minute=59, start_date="2026-01-01", timezone="UTC", jitter=120
    )
    times = chain(trigger, 20)
    for day, fire_time in enumerate(times):
        aimed = datetime(2026, 1, 1 + day, 23, 59, tzinfo=UTC)
        assert aimed <= fire_time <= aimed + timedelta(seconds=120)


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({"months": 1, "hour": 9, "minute": 30, "start_date": "2026-01-01"},
         "every month on day 1 at 09:30 (UTC)"),
        ({"days": 1, "hour": 7}, "every day at 07:00 (UTC)"),
        ({"weeks": 1, "start_date": "2026-01-05", "second": 5},
         "every week on Monday at 00:00:05 (UTC)"),
        ({"weeks": 2, "start_date": "2026-01-06"},
         "every 2 weeks on Tuesday at 00:00 (UTC), starting 2026-01-06"),
        ({"years": 1, "start_date": "2026-03-05"}, "every year on March 5 at 00:00 (UTC)"),
        ({"months": 1, "days": 2, "start_date": "2026-01-05", "end_date": "2026-12-31"},
         "every 1 month and 2 days at 00:00 (UTC), starting 2026-01-05, until 2026-12-31"),
        ({"days": 3, "jitter": 10, "start_date": "2026-01-05"},
         "every 3 days at 00:00 (UTC), starting 2026-01-05, delayed by up to 10 s"),
    ],
)  # fmt: skip
def test_describe(kwargs, text):
    assert CalendarIntervalTrigger(timezone="UTC", **kwargs).describe() == text


def test_str_and_repr_match_apscheduler_for_named_zones():
    kwargs = {
        "months": 1,
        "hour": 8,
        "minute": 5,
        "start_date": "2031-03-31",
        "end_date": "2032-01-01",
        "timezone": "Europe/Helsinki",
    }
    ours = CalendarIntervalTrigger(**kwargs)
    theirs = aps_calendar.CalendarIntervalTrigger(**kwargs)
    assert str(ours) == str(theirs)
    assert repr(ours) == repr(theirs)
    assert repr(ours) == (
        "CalendarIntervalTrigger(months=1, time='08:05:00', start_date='2031-03-31', "
        "end_date='2032-01-01', timezone='Europe/Helsinki')"
    )


def test_utc_is_printed_by_name():
    trigger = CalendarIntervalTrigger(days=1, start_date="2026-01-01", timezone="UTC")
    assert repr(trigger) == (
        "CalendarIntervalTrigger(days=1, time='00:00:00+00:00', start_date='2026-01-01', "
        "timezone='UTC')"
    )


# --- differential -------------------------------------------------------------------
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"]


def _same(a: datetime | None, b: datetime | None) -> bool:
    if a is None or b is None:
        return a is b
    return a.timestamp() == b.timestamp() and a.timetuple()[:6] == b.timetuple()[:6]


@seed(424242)
@settings(
    max_examples=600, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    counts=st.fixed_dictionaries(
        {
            "years": st.sampled_from([0, 0, 0, 1, 2]),
            "months": st.sampled_from([0, 0, 1, 1, 2, 5, 13]),
            "weeks": st.sampled_from([0, 0, 0, 1, 3]),
            "days": st.sampled_from([0, 0, 1, 2, 10]),
        }
    ).filter(lambda c: any(c.values())),
    clock=st.fixed_dictionaries(
        {
            # Hours 1-3 often, so DST gaps and repeated hours come up.
            "hour": st.sampled_from([0, 1, 2, 2, 2, 3, 9, 23]),
            "minute": st.sampled_from([0, 15, 30, 45]),
            "second": st.sampled_from([0, 0, 59]),
        }
    ),
    zone=st.sampled_from(ZONES),
    start=st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31)),
    end_days=st.none() | st.integers(0, 800),
    now_days=st.integers(-40, 400),
    now_seconds=st.integers(0, 86399),
)
def test_matches_apscheduler(counts, clock, zone, start, end_days, now_days, now_seconds):
    end = None if end_days is None else start + timedelta(days=end_days)
    kwargs = {**counts, **clock, "start_date": start, "end_date": end, "timezone": zone}
    ours = CalendarIntervalTrigger(**kwargs)
    theirs = aps_calendar.CalendarIntervalTrigger(**kwargs)
    if zone != "UTC":
        assert str(ours) == str(theirs)
        assert repr(ours) == repr(theirs)
    tz = ours.timezone
    now = datetime.combine(start, datetime.min.time(), tzinfo=tz) + timedelta(
        days=now_days, seconds=now_seconds
    )
    expected = theirs.get_next_fire_time(None, now)
    actual = ours.get_next_fire_time(None, now)
    assert _same(actual, expected), (kwargs, now, actual, expected)
    previous = actual
    for _ in range(8):
        if previous is None:
            return
        expected = theirs.get_next_fire_time(previous, previous)
        actual = ours.get_next_fire_time(previous, previous)
        assert _same(actual, expected), (kwargs, previous, actual, expected)
        previous = actual
