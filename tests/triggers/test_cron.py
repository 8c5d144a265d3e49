"""Unit tests of the keyword-form CronTrigger: construction, errors, display, state,
start/end dates, jitter, and the DST rules in Berlin, New York and Lord Howe."""

from __future__ import annotations

import pickle
import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from nbsched.triggers.cron import CronTrigger

aps_cron = pytest.importorskip("apscheduler.triggers.cron")

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")


def walls(times: list[datetime]) -> list[str]:
    """ISO strings with offsets: shows both the wall time and the instant."""
    return [t.isoformat() for t in times]


# --- construction and defaults ------------------------------------------------------
def test_fields_less_significant_than_the_last_given_default_to_minimum():
    trigger = CronTrigger(day=1, timezone=UTC)
    assert [(f.name, str(f), f.is_default) for f in trigger.fields] == [
        ("year", "*", True),
        ("month", "*", True),
        ("day", "1", False),
        ("week", "*", True),
        ("day_of_week", "*", True),
        ("hour", "0", True),
        ("minute", "0", True),
        ("second", "0", True),
    ]
    assert trigger.preview(2, datetime(2026, 1, 15, tzinfo=UTC)) == [
        datetime(2026, 2, 1, tzinfo=UTC),
        datetime(2026, 3, 1, tzinfo=UTC),
    ]


def test_no_fields_means_every_second():
    start = datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert CronTrigger(timezone=UTC).preview(3, start) == [
        start + timedelta(seconds=i) for i in range(3)
    ]


def test_timezone_defaults():
    start = datetime(2026, 1, 1, tzinfo=NEW_YORK)
    assert CronTrigger(hour=1, start_date=start).timezone == NEW_YORK
    assert CronTrigger(hour=1, end_date=start).timezone == NEW_YORK
    assert CronTrigger(hour=1, timezone="Europe/Berlin").timezone == BERLIN
    assert CronTrigger(hour=1, timezone="UTC").timezone is UTC
    from nbsched.timezones import local_timezone

    assert CronTrigger(hour=1).timezone == local_timezone()


def test_string_dates_are_read_in_the_trigger_zone():
    trigger = CronTrigger(
        hour=1, start_date="2026-05-01", end_date="2026-05-03 12:00", timezone="Europe/Berlin"
    )
    assert trigger.start_date == datetime(2026, 5, 1, tzinfo=BERLIN)
    assert trigger.end_date == datetime(2026, 5, 3, 12, tzinfo=BERLIN)


# --- expressions --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "start", "expected"),
    [
        ({"month": 2, "day": 29}, datetime(2026, 1, 1), ["2028-02-29", "2032-02-29"]),
        ({"day": "last fri"}, datetime(2026, 1, 1), ["2026-01-30", "2026-02-27"]),
        ({"day": "5th mon"}, datetime(2026, 1, 1), ["2026-03-30", "2026-06-29"]),
        ({"day": "last"}, datetime(2026, 1, 31, 0, 0, 1), ["2026-02-28", "2026-03-31"]),
        ({"day": "2nd tue,last"}, datetime(2026, 1, 1), ["2026-01-13", "2026-01-31"]),
        ({"month": "feb-apr/2", "day": 3}, datetime(2026, 1, 1), ["2026-02-03", "2026-04-03"]),
        ({"month": "jan,dec", "day": "*/15"}, datetime(2026, 1, 20), ["2026-01-31", "2026-12-01"]),
        ({"week": 1, "day_of_week": "mon"}, datetime(2026, 6, 1), ["2027-01-04", "2028-01-03"]),
        ({"year": "2027,2029", "month": 6}, datetime(2026, 1, 1), ["2027-06-01", "2029-06-01"]),
        ({"day_of_week": "sat-sun"}, datetime(2026, 1, 1), ["2026-01-03", "2026-01-04"]),
        ({"day_of_week": "5-6", "hour": 0}, datetime(2026, 1, 1), ["2026-01-03", "2026-01-04"]),
    ],
)
def test_expressions(kwargs, start, expected):
    trigger = CronTrigger(timezone=UTC, **kwargs)
    times = trigger.preview(len(expected), start.replace(tzinfo=UTC))
    assert [t.date().isoformat() for t in times] == expected


@pytest.mark.parametrize(
    "kwargs",
    [
        {"month": 2, "day": 30},
        {"month": 2, "day": 31},
        {"month": "apr,jun", "day": 31},
        {"year": 2026, "month": 2, "day": 29},
        {"day": "5th fri", "month": 2, "year": "2026-2029"},
    ],
)
def test_impossible_combinations_return_none_quickly(kwargs):
    trigger = CronTrigger(timezone=UTC, **kwargs)
    began = time.perf_counter()
    assert trigger.get_next_fire_time(None, datetime(2026, 1, 1, tzinfo=UTC)) is None
    assert time.perf_counter() - began < 2.0


def test_year_limit():
    trigger = CronTrigger(year=9999, month=12, day=31, hour=23, minute=59, second=59, timezone=UTC)
    now = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert trigger.get_next_fire_time(None, now) == now
    assert trigger.get_next_fire_time(now, now) is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"day_of_week": "mon-sat/0"}, "day_of_week: 'mon-sat/0': step must be positive"),
        ({"hour": "25"}, "hour: '25': out of range 0-23"),
        ({"hour": 25}, "hour: '25': out of range 0-23"),
        ({"minute": "*/0"}, r"minute: '\*/0': step must be positive"),
        ({"minute": "*/60"}, r"minute: '\*/60': step 60 is larger"),
        ({"second": "10-5"}, "second: '10-5': range runs backwards"),
        ({"day_of_week": "sat-mon"}, "day_of_week: 'sat-mon': range runs backwards"),
        ({"month": "foo"}, "month: 'foo': unknown month name 'foo'"),
        ({"day_of_week": "funday"}, "day_of_week: 'funday': unknown weekday name"),
        ({"day": "6th mon"}, "day: '6th mon': unrecognised expression"),
        ({"day": "last moon"}, "day: 'last moon': unknown weekday name 'moon'"),
        ({"day": "0"}, "day: '0': out of range 1-31"),
        ({"week": "54"}, "week: '54': out of range 1-53"),
        ({"year": "1969"}, "year: '1969': out of range 1970-9999"),
        ({"hour": "9,"}, "hour: '': unrecognised expression"),
        ({"hour": ""}, "hour: '': empty expression"),
        ({"hour": "mon"}, "hour: 'mon': unrecognised expression"),
        ({"jitter": -1}, "jitter: -1: must be a non-negative"),
        ({"timezone": "Mars/Base"}, "timezone: 'Mars/Base': unknown time zone"),
        ({"start_date": "yesterday"}, "start_date: 'yesterday'"),
    ],
)
def test_bad_input_names_the_field_and_the_text(kwargs, message):
    kwargs.setdefault("timezone", UTC)
    with pytest.raises(ValueError, match=message):
        CronTrigger(**kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"hour": "25"},
        {"second": "10-5"},
        {"month": "foo"},
        {"minute": "*/60"},
    ],
)
def test_rejects_what_apscheduler_rejects(kwargs):
    """(APScheduler silently ignores a step after weekday/month names; we honour it.)"""
    with pytest.raises(ValueError):
        aps_cron.CronTrigger(timezone=UTC, **kwargs)
    with pytest.raises(ValueError):
        CronTrigger(timezone=UTC, **kwargs)


# --- display --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs",
    [
        {"hour": 9, "minute": 30},
        {"hour": "9", "minute": "30", "timezone": "Europe/Berlin"},
        {"day_of_week": "mon-fri", "hour": "9-17", "minute": "*/15"},
        {"month": "jan-mar,dec", "day": "last fri,1st mon,last,5/3"},
        {"year": "2027", "week": "1-10/2", "second": "5-5"},
        {"minute": 0, "start_date": datetime(2026, 1, 1, 9, tzinfo=BERLIN)},
        {"minute": 0, "end_date": "2026-12-31", "jitter": 30},
        {},
    ],
)
def test_str_and_repr_are_apschedulers(kwargs):
    kwargs.setdefault("timezone", "Europe/Berlin")
    ours, theirs = CronTrigger(**kwargs), aps_cron.CronTrigger(**kwargs)
    assert str(ours) == str(theirs)
    assert repr(ours) == repr(theirs)
    assert [(f.name, str(f), f.is_default) for f in ours.fields] == [
        (f.name, str(f), f.is_default) for f in theirs.fields
    ]


def test_str_and_repr_examples():
    trigger = CronTrigger(hour=9, minute=30, timezone="Europe/Berlin")
    assert str(trigger) == "cron[hour='9', minute='30']"
    assert repr(trigger) == "<CronTrigger (hour='9', minute='30', timezone='Europe/Berlin')>"


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        (
            {"day_of_week": "mon-fri", "hour": 9, "minute": 30, "timezone": "Europe/Berlin"},
            "at 09:30 on Monday through Friday (Europe/Berlin)",
        ),
        ({"minute": "*/5"}, "every 5 minutes"),
        ({"day": "last fri"}, "at 00:00 on the last Friday of the month (UTC)"),
        ({"second": "*/10"}, "every 10 seconds"),
        ({"minute": 30}, "at minute 30 of every hour"),
        (
            {"hour": "9-17", "minute": "*/15", "day_of_week": "mon-fri"},
            "every 15 minutes of hours 9 through 17 on Monday through Friday (UTC)",
        ),
        ({"month": 2, "day": 29, "hour": 12}, "at 12:00 on day 29 of the month in February (UTC)"),
        (
            {"day": "1,15", "hour": 6, "minute": 5, "second": 7},
            "at 06:05:07 on days 1 and 15 of the month (UTC)",
        ),
        ({"hour": 9, "jitter": 5}, "at 09:00 (UTC), delayed by up to 5 s"),
    ],
)
def test_describe(kwargs, text):
    kwargs.setdefault("timezone", "UTC")
    assert CronTrigger(**kwargs).describe() == text


def test_describe_is_total():
    """Every expression form yields some description without error."""
    trigger = CronTrigger(
        year="2027-2030/2,2035",
        month="*/4,dec",
        day="2nd wed,last,1-9/4,20/5",
        week="*/3",
        day_of_week="0,sat-sun",
        hour="1/7",
        minute="5-50/9",
        second="*/29",
        start_date="2027-01-01",
        end_date="2040-01-01",
        timezone="UTC",
    )
    text = trigger.describe()
    assert "second Wednesday" in text and "ISO week" in text and "(UTC)" in text


# --- identity, pickling, immutability ---------------------------------------------------
def test_equal_triggers_from_equal_expressions():
    a = CronTrigger(hour="9-17/2", minute=0, timezone="Europe/Berlin")
    b = CronTrigger(hour="9-17/2", minute="0", timezone=BERLIN)
    assert a == b and hash(a) == hash(b)
    # Unlike APScheduler 3.11, the step is part of a range's identity.
    assert a != CronTrigger(hour="9-17", minute=0, timezone="Europe/Berlin")
    assert a != CronTrigger(hour="9-17/2", minute=0, timezone="UTC")
    assert len({a, b}) == 1


def test_pickle_round_trip():
    trigger = CronTrigger(
        day="last fri",
        hour="9-17",
        start_date="2026-01-01",
        end_date="2030-01-01",
        jitter=3,
        timezone="America/New_York",
    )
    clone = pickle.loads(pickle.dumps(trigger))
    assert clone == trigger
    assert str(clone) == str(trigger) and repr(clone) == repr(trigger)
    start = datetime(2026, 5, 1, tzinfo=NEW_YORK)
    assert clone.preview(5, start) == trigger.preview(5, start)
    state = trigger.__getstate__()
    assert state["version"] == 1
    state["version"] = 99
    fresh = CronTrigger.__new__(CronTrigger)
    with pytest.raises(ValueError, match="version 99"):
        fresh.__setstate__(state)


def test_steps_after_names_are_honoured():
    """APScheduler 3.11 drops the "/2" in "jan-jun/2"; nbsched applies it."""
    trigger = CronTrigger(month="jan-jun/2", timezone=UTC)
    times = trigger.preview(3, datetime(2026, 1, 1, tzinfo=UTC))
    assert [t.month for t in times] == [1, 3, 5]
    assert str(trigger) == "cron[month='jan-jun/2']"
    aps = aps_cron.CronTrigger(month="jan-jun/2", timezone=UTC)
    assert str(aps) == "cron[month='jan-jun']"


def test_immutable():
    trigger = CronTrigger(hour=1, timezone=UTC)
    with pytest.raises(AttributeError):
        trigger.timezone = BERLIN
    with pytest.raises(AttributeError):
        del trigger.jitter


# --- start/end dates, previous fire time, jitter ------------------------------------------
def test_start_and_end_dates_are_inclusive():
    trigger = CronTrigger(
        hour=12, timezone=UTC, start_date="2026-01-02 12:00", end_date="2026-01-04 12:00"
    )
    times = trigger.preview(10, datetime(2026, 1, 1, tzinfo=UTC))
    assert [t.day for t in times] == [2, 3, 4]


def test_previous_fire_time_wins_over_start_date():
    # APScheduler's rule: with a previous fire time the start date is not consulted.
    trigger = CronTrigger(hour=12, timezone=UTC, start_date="2026-02-01")
    previous = datetime(2026, 1, 10, 12, tzinfo=UTC)
    assert trigger.get_next_fire_time(previous, datetime(2026, 3, 1, tzinfo=UTC)) == (
        datetime(2026, 1, 11, 12, tzinfo=UTC)
    )


def test_clock_behind_previous_fire_time_counts_from_now():
    trigger = CronTrigger(minute="*/10", timezone=UTC)
    previous = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    now = datetime(2026, 1, 1, 11, 0, 30, tzinfo=UTC)
    assert trigger.get_next_fire_time(previous, now) == datetime(2026, 1, 1, 11, 10, tzinfo=UTC)


def test_microseconds_round_up():
    trigger = CronTrigger(second="*", timezone=UTC)
    now = datetime(2026, 1, 1, 0, 0, 0, 1, tzinfo=UTC)
    assert trigger.get_next_fire_time(None, now) == datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC)


def test_jitter_stays_within_bounds_and_end_date():
    trigger = CronTrigger(minute=0, jitter=30, timezone=UTC)
    now = datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC)
    base = datetime(2026, 1, 1, 1, tzinfo=UTC)
    delays = [(trigger.get_next_fire_time(None, now) - base).total_seconds() for _ in range(200)]
    assert all(0 <= d <= 30 for d in delays)
    assert len(set(delays)) > 1
    capped = CronTrigger(minute=0, jitter=3600, timezone=UTC, end_date=base)
    assert all(capped.get_next_fire_time(None, now) <= base for _ in range(50))


def test_preview_leaves_out_jitter():
    trigger = CronTrigger(minute="*/20", jitter=10, timezone=UTC)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert [t.minute for t in trigger.preview(4, start)] == [0, 20, 40, 0]


# --- DST ------------------------------------------------------------------------------------
def test_berlin_spring_forward_skips_the_missing_time():
    trigger = CronTrigger(hour=2, minute=30, timezone=BERLIN)
    times = trigger.preview(3, datetime(2026, 3, 28, 12, tzinfo=BERLIN))
    assert walls(times) == [
        "2026-03-30T02:30:00+02:00",  # 2026-03-29 02:30 does not exist in Berlin
        "2026-03-31T02:30:00+02:00",
        "2026-04-01T02:30:00+02:00",
    ]


def test_berlin_spring_forward_hour_range():
    trigger = CronTrigger(hour="1-3", minute=30, timezone=BERLIN)
    times = trigger.preview(3, datetime(2026, 3, 29, tzinfo=BERLIN))
    assert walls(times) == [
        "2026-03-29T01:30:00+01:00",
        "2026-03-29T03:30:00+02:00",
        "2026-03-30T01:30:00+02:00",
    ]


def test_berlin_fall_back_fires_each_wall_time_once():
    trigger = CronTrigger(minute="*/15", timezone=BERLIN)
    times = trigger.preview(7, datetime(2026, 10, 25, 1, 45, tzinfo=BERLIN))
    assert walls(times) == [
        "2026-10-25T01:45:00+02:00",
        "2026-10-25T02:00:00+02:00",
        "2026-10-25T02:15:00+02:00",
        "2026-10-25T02:30:00+02:00",
        "2026-10-25T02:45:00+02:00",
        "2026-10-25T03:00:00+01:00",  # the repeated 02:00-02:59 (CET) does not fire again
        "2026-10-25T03:15:00+01:00",
    ]


def test_berlin_fall_back_daily_job_fires_once():
    trigger = CronTrigger(hour=2, minute=30, timezone=BERLIN)
    times = trigger.preview(2, datetime(2026, 10, 24, 12, tzinfo=BERLIN))
    assert walls(times) == ["2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"]


def test_starting_inside_the_repeated_hour_resumes_after_it():
    trigger = CronTrigger(minute="*/15", timezone=BERLIN)
    # 02:20 CET, the second pass (01:20 UTC)
    now = datetime(2026, 10, 25, 1, 20, tzinfo=UTC)
    assert walls(trigger.preview(2, now)) == [
        "2026-10-25T03:00:00+01:00",
        "2026-10-25T03:15:00+01:00",
    ]


def test_new_york_spring_forward_and_fall_back():
    daily = CronTrigger(hour=2, minute=30, timezone=NEW_YORK)
    assert walls(daily.preview(2, datetime(2026, 3, 7, 12, tzinfo=NEW_YORK))) == [
        "2026-03-09T02:30:00-04:00",
        "2026-03-10T02:30:00-04:00",
    ]
    quarter = CronTrigger(minute="*/15", timezone=NEW_YORK)
    times = quarter.preview(6, datetime(2026, 11, 1, 1, 15, tzinfo=NEW_YORK))
    assert walls(times) == [
        "2026-11-01T01:15:00-04:00",
        "2026-11-01T01:30:00-04:00",
        "2026-11-01T01:45:00-04:00",
        "2026-11-01T02:00:00-05:00",
        "2026-11-01T02:15:00-05:00",
        "2026-11-01T02:30:00-05:00",
    ]


def test_lord_howe_half_hour_gap_and_fold():
    # 2026-10-04: 02:00 -> 02:30 (+10:30 -> +11:00); 02:00-02:29 do not exist.
    gap = CronTrigger(hour=2, minute="0,15,30,45", timezone=LORD_HOWE)
    assert walls(gap.preview(4, datetime(2026, 10, 4, 1, tzinfo=LORD_HOWE))) == [
        "2026-10-04T02:30:00+11:00",
        "2026-10-04T02:45:00+11:00",
        "2026-10-05T02:00:00+11:00",
        "2026-10-05T02:15:00+11:00",
    ]
    # 2026-04-05: 02:00 -> 01:30 (+11:00 -> +10:30); 01:30-01:59 happen twice.
    fold = CronTrigger(minute="*/10", timezone=LORD_HOWE)
    assert walls(fold.preview(8, datetime(2026, 4, 5, 1, 20, tzinfo=LORD_HOWE))) == [
        "2026-04-05T01:20:00+11:00",
        "2026-04-05T01:30:00+11:00",
        "2026-04-05T01:40:00+11:00",
        "2026-04-05T01:50:00+11:00",
        "2026-04-05T02:00:00+10:30",
        "2026-04-05T02:10:00+10:30",
        "2026-04-05T02:20:00+10:30",
        "2026-04-05T02:30:00+10:30",
    ]


def test_apscheduler_dst_bugs_we_do_not_copy():
    """Pins the two APScheduler 3.11 behaviours listed in docs/cron.md."""
    spring = aps_cron.CronTrigger(hour=2, minute=30, timezone=BERLIN)
    fired = spring.get_next_fire_time(None, datetime(2026, 3, 28, 12, tzinfo=BERLIN))
    assert fired.isoformat() == "2026-03-29T02:30:00+01:00"  # a wall time that never exists
    fall = aps_cron.CronTrigger(hour=2, minute=30, timezone=BERLIN)
    first = fall.get_next_fire_time(None, datetime(2026, 10, 25, tzinfo=BERLIN))
    second = fall.get_next_fire_time(first, first)
    assert (second.day, second.fold) == (25, 1)  # the same wall time fires twice


ZONE_DAYS = [
    (BERLIN, datetime(2026, 3, 29)),
    (BERLIN, datetime(2026, 10, 25)),
    (NEW_YORK, datetime(2026, 3, 8)),
    (NEW_YORK, datetime(2026, 11, 1)),
    (LORD_HOWE, datetime(2026, 10, 4)),
    (LORD_HOWE, datetime(2026, 4, 5)),
]


@pytest.mark.parametrize(("zone", "day"), ZONE_DAYS)
@pytest.mark.parametrize("minute", ["*/15", "0,30", "5-35/10", "45"])
def test_dst_days_against_brute_force(zone, day, minute):
    """Each real minute of the day, kept if its wall time matches and not seen before."""
    trigger = CronTrigger(minute=minute, hour="0-4", timezone=zone)
    start = day.replace(tzinfo=zone)
    allowed = {m for m in range(60) if m in set(trigger.fields[6].values)}
    expected, seen = [], set()
    instant = start.astimezone(UTC)
    while instant < start.astimezone(UTC) + timedelta(hours=8):
        local = instant.astimezone(zone)
        wall = local.replace(tzinfo=None, fold=0)
        if local.hour <= 4 and local.minute in allowed and wall not in seen:
            expected.append(local)
            seen.add(wall)
        instant += timedelta(minutes=1)
    actual = [t for t in trigger.preview(len(expected) + 1, start) if t.day == day.day]
    assert walls(actual) == walls(expected)


def test_carry_across_spring_forward_does_not_skip_a_day():
    """APScheduler 3.11 skips 2026-03-09 here: its day carry overshoots by the gap."""
    start = datetime(2026, 3, 8, 1, 59, 59, tzinfo=NEW_YORK)
    ours = CronTrigger(hour=0, minute=0, timezone=NEW_YORK)
    assert ours.get_next_fire_time(None, start).isoformat() == "2026-03-09T00:00:00-04:00"
    theirs = aps_cron.CronTrigger(hour=0, minute=0, timezone=NEW_YORK)
    assert theirs.get_next_fire_time(None, start).isoformat() == "2026-03-10T00:00:00-04:00"
    # The same overshoot in Lord Howe's 30-minute gap loses a whole match (2027-11-01).
    kwargs = {"month": "7-12", "day": 1, "day_of_week": 0, "hour": 0}
    start = datetime(2025, 12, 1, tzinfo=LORD_HOWE)
    previous = CronTrigger(timezone=LORD_HOWE, **kwargs).get_next_fire_time(start, start)
    assert previous.isoformat() == "2027-11-01T00:00:00+11:00"
    aps = aps_cron.CronTrigger(timezone=LORD_HOWE, **kwargs).get_next_fire_time(start, start)
    assert aps.isoformat() == "2029-10-01T00:00:00+10:30"


def test_pickled_cron_trigger_is_small_and_round_trips() -> None:
    # Fields pickle as their expression text; compiled tables are rebuilt on load.
    import pickle

    trigger = CronTrigger(hour="9-17", minute="*/5", day_of_week="mon-fri", timezone="UTC")
    payload = pickle.dumps(trigger)
    assert len(payload) < 1_000
    restored = pickle.loads(payload)
    assert restored == trigger
    assert restored.preview(5) == trigger.preview(5)
