"""Unit tests of the keyword-form CronTrigger: construction, errors, display, state,
start/end dates, jitter, and the DST rules in Berlin, New York and Lord Howe."""

from __future__ import annotations

import itertools
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
    ("kwargs", "wording"),
    [
        ({"day": "*/31"}, "the step value (31) is higher than the total range of the "),
        ({"day": "4-6/3"}, "the step value (3) is higher than the total range of the "),
        ({"hour": "0-24"}, "the last value (24) is higher than the maximum value (23)"),
        ({"day": "0-3"}, "the first value (0) is lower than the minimum value (1)"),
    ],
)
def test_range_errors_also_carry_apschedulers_wording(kwargs, wording):
    text = next(iter(kwargs.values()))
    with pytest.raises(ValueError) as raised:
        CronTrigger(timezone=UTC, **kwargs)
    assert f"Error validating expression {text!r}: {wording}" in str(raised.value)


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


# --- DST: APScheduler 3.11's rule, exactly ------------------------------------------------
def aps_times(kwargs: dict, zone, start: datetime, n: int) -> list[str]:
    """APScheduler 3.11's successive fire times, as a scheduler asks for them.

    Its answers inside a gap are nonexistent wall times (``02:30+01:00`` in Berlin);
    shown here, as nbsched returns them, as the real wall time of that instant. The
    scheduler asks for the next time with a clock already past the previous one (with
    ``now`` equal to a nonexistent answer APScheduler would compare wall readings and
    return the same instant again), so the clock is a microsecond after it.
    """
    trigger = aps_cron.CronTrigger(timezone=zone, **kwargs)
    previous, now, out = None, start, []
    for _ in range(n):
        previous = trigger.get_next_fire_time(previous, now)
        if previous is None:
            break
        real = previous.astimezone(UTC).astimezone(zone)
        now = (real.astimezone(UTC) + timedelta(microseconds=1)).astimezone(zone)
        out.append(real.isoformat())
    return out


def our_times(kwargs: dict, zone, start: datetime, n: int) -> list[str]:
    trigger = CronTrigger(timezone=zone, **kwargs)
    previous, now, out = None, start, []
    for _ in range(n):
        previous = now = trigger.get_next_fire_time(previous, now)
        if previous is None:
            break
        assert previous.astimezone(UTC).astimezone(zone) == previous  # a real wall time
        out.append(previous.isoformat())
    return out


def test_spring_forward_daily_job_runs_an_hour_late_not_never():
    # 2026-03-29 02:30 does not exist in Berlin; APScheduler runs the job at the instant
    # that wall time would denote, 03:30 CEST, and so do we (as a real wall time).
    kwargs = {"hour": 2, "minute": 30}
    start = datetime(2026, 3, 28, 12, tzinfo=BERLIN)
    expected = [
        "2026-03-29T03:30:00+02:00",
        "2026-03-30T02:30:00+02:00",
        "2026-03-31T02:30:00+02:00",
    ]
    assert our_times(kwargs, BERLIN, start, 3) == expected == aps_times(kwargs, BERLIN, start, 3)
    trigger = CronTrigger(timezone=BERLIN, **kwargs)
    assert walls(trigger.preview(2, start)) == expected[:2]


def test_fall_back_every_30_minutes_keeps_its_rhythm():
    # The example: US/Eastern, 2013-11-03, 02:00 EDT -> 01:00 EST.
    zone = ZoneInfo("US/Eastern")
    kwargs = {"minute": "*/30"}
    start = datetime(2013, 11, 3, 0, 40, tzinfo=zone)
    expected = [
        "2013-11-03T01:00:00-04:00",
        "2013-11-03T01:30:00-04:00",
        "2013-11-03T01:00:00-05:00",
        "2013-11-03T01:30:00-05:00",
        "2013-11-03T02:00:00-05:00",
    ]
    ours = CronTrigger(timezone=zone, **kwargs)
    times = ours.preview(5, start)
    assert walls(times) == expected == aps_times(kwargs, zone, start, 5)
    assert [t.fold for t in times] == [0, 0, 1, 1, 0]
    gaps = {b.timestamp() - a.timestamp() for a, b in itertools.pairwise(times)}
    assert gaps == {1800.0}


def test_fall_back_daily_job_in_the_repeated_hour_fires_twice():
    zone = ZoneInfo("US/Eastern")
    kwargs = {"hour": 1, "minute": 30}
    start = datetime(2013, 11, 2, 12, tzinfo=zone)
    expected = [
        "2013-11-03T01:30:00-04:00",
        "2013-11-03T01:30:00-05:00",
        "2013-11-04T01:30:00-05:00",
    ]
    assert our_times(kwargs, zone, start, 3) == expected == aps_times(kwargs, zone, start, 3)


@pytest.mark.parametrize(
    ("kwargs", "zone", "start", "n"),
    [
        ({"hour": "1-3", "minute": 30}, BERLIN, datetime(2026, 3, 29), 3),
        ({"minute": "*/15"}, BERLIN, datetime(2026, 10, 25, 1, 45), 11),
        ({"hour": 2, "minute": 30}, BERLIN, datetime(2026, 10, 24, 12), 3),
        ({"hour": 2, "minute": 30}, NEW_YORK, datetime(2026, 3, 7, 12), 3),
        ({"minute": "*/15"}, NEW_YORK, datetime(2026, 11, 1, 0, 50), 12),
        ({"hour": 2, "minute": "0,15,30,45"}, LORD_HOWE, datetime(2026, 10, 4, 1), 4),
        ({"minute": "*/10"}, LORD_HOWE, datetime(2026, 4, 5, 1, 20), 10),
        ({"day_of_week": "sun"}, BERLIN, datetime(2026, 3, 20), 3),
        ({"hour": 0, "minute": 0}, NEW_YORK, datetime(2026, 3, 7), 4),
        ({"hour": "*/2", "minute": 10}, ZoneInfo("Pacific/Chatham"), datetime(2026, 4, 4, 22), 6),
        ({"hour": 0}, ZoneInfo("America/Sao_Paulo"), datetime(2018, 11, 2), 4),
        ({"minute": "*/20"}, ZoneInfo("America/Sao_Paulo"), datetime(2019, 2, 16, 22, 30), 9),
    ],
)
def test_transition_nights_match_apscheduler(kwargs, zone, start, n):
    start = start.replace(tzinfo=zone)
    assert our_times(kwargs, zone, start, n) == aps_times(kwargs, zone, start, n)


def test_starting_inside_the_repeated_hour():
    trigger = CronTrigger(minute="*/15", timezone=BERLIN)
    # 02:20 CET, the second pass (01:20 UTC): the second pass's own times come next.
    now = datetime(2026, 10, 25, 1, 20, tzinfo=UTC)
    assert walls(trigger.preview(2, now)) == [
        "2026-10-25T02:30:00+01:00",
        "2026-10-25T02:45:00+01:00",
    ]


def test_carry_across_spring_forward_is_apschedulers():
    """A carry is elapsed time in APScheduler: carrying into the next day across the gap
    lands an hour late, so this midnight job has no run on 2026-03-09, as in APScheduler."""
    start = datetime(2026, 3, 8, 0, 0, 1, tzinfo=NEW_YORK)
    ours = CronTrigger(hour=0, minute=0, timezone=NEW_YORK)
    assert ours.get_next_fire_time(None, start).isoformat() == "2026-03-10T00:00:00-04:00"
    theirs = aps_cron.CronTrigger(hour=0, minute=0, timezone=NEW_YORK)
    assert theirs.get_next_fire_time(None, start).isoformat() == "2026-03-10T00:00:00-04:00"


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
def test_dst_days_from_every_start_against_apscheduler(zone, day, minute):
    """From every real 7th minute of the night, the next fire time is APScheduler's."""
    kwargs = {"minute": minute, "hour": "0-4"}
    ours = CronTrigger(timezone=zone, **kwargs)
    theirs = aps_cron.CronTrigger(timezone=zone, **kwargs)
    instant = day.replace(tzinfo=zone).astimezone(UTC)
    for _ in range(6 * 60 // 7):
        now = instant.astimezone(zone)
        expected = theirs.get_next_fire_time(None, now)
        actual = ours.get_next_fire_time(None, now)
        assert actual.isoformat() == expected.astimezone(UTC).astimezone(zone).isoformat()
        instant += timedelta(minutes=7)


def test_pickled_cron_trigger_is_small_and_round_trips() -> None:
    # Fields pickle as their expression text; compiled tables are rebuilt on load.
    import pickle

    trigger = CronTrigger(hour="9-17", minute="*/5", day_of_week="mon-fri", timezone="UTC")
    payload = pickle.dumps(trigger)
    assert len(payload) < 1_000
    restored = pickle.loads(payload)
    assert restored == trigger
    assert restored.preview(5) == trigger.preview(5)
