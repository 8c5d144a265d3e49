"""DateTrigger: input forms, zones, DST gaps, display, and APScheduler parity."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, seed, settings
from hypothesis import strategies as st

from nbsched.timezones import local_timezone
from nbsched.triggers.date import DateTrigger

aps_date = pytest.importorskip("apscheduler.triggers.date")

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
RUN = datetime(2026, 12, 1, 9, tzinfo=BERLIN)


def test_fires_once():
    trigger = DateTrigger(RUN)
    assert trigger.get_next_fire_time(None, RUN - timedelta(days=1)) == RUN
    assert trigger.get_next_fire_time(None, RUN + timedelta(days=1)) == RUN  # even if late
    assert trigger.get_next_fire_time(RUN, RUN) is None
    assert trigger.preview(5, RUN - timedelta(days=1)) == [RUN]


def test_default_run_date_is_now_in_the_given_zone():
    before = datetime.now(UTC)
    trigger = DateTrigger(timezone="America/New_York")
    assert before <= trigger.run_date <= datetime.now(UTC)
    assert trigger.run_date.tzinfo is NEW_YORK
    assert DateTrigger().run_date.tzinfo == local_timezone()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-12-01 09:00:00", datetime(2026, 12, 1, 9, tzinfo=BERLIN)),
        ("2026-12-01T09:00", datetime(2026, 12, 1, 9, tzinfo=BERLIN)),
        ("2026-12-01", datetime(2026, 12, 1, tzinfo=BERLIN)),
        (date(2026, 12, 1), datetime(2026, 12, 1, tzinfo=BERLIN)),
        (datetime(2026, 12, 1, 9), datetime(2026, 12, 1, 9, tzinfo=BERLIN)),
        ("2026-12-01 08:00:00Z", datetime(2026, 12, 1, 8, tzinfo=UTC)),
        (
            "2026-12-01 09:00:00.25+01:00",
            datetime(2026, 12, 1, 9, 0, 0, 250000, tzinfo=timezone(timedelta(hours=1))),
        ),
    ],
)
def test_input_forms(value, expected):
    trigger = DateTrigger(value, timezone="Europe/Berlin")
    assert trigger.run_date == expected
    assert trigger.run_date.utcoffset() == expected.utcoffset()


def test_aware_run_date_keeps_its_zone():
    trigger = DateTrigger(datetime(2026, 12, 1, 9, tzinfo=NEW_YORK), timezone="Europe/Berlin")
    assert trigger.run_date.tzinfo is NEW_YORK
    assert trigger.timezone is NEW_YORK


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"run_date": "xyz"}, ValueError, "run_date: 'xyz': not a date"),
        ({"run_date": "2026-02-30"}, ValueError, "run_date: '2026-02-30'"),
        ({"run_date": RUN, "timezone": "Nowhere/Land"}, ValueError, "timezone: 'Nowhere/Land'"),
        ({"run_date": 12345}, TypeError, "run_date: unsupported type int"),
    ],
)
def test_bad_input(kwargs, error, message):
    with pytest.raises(error, match=message):
        DateTrigger(**kwargs)


def test_nonexistent_wall_time_becomes_the_instant_it_denotes():
    # 02:30 does not exist in Berlin on 2026-03-29; APScheduler keeps the impossible
    # reading, we show the real clock time of the same instant.
    trigger = DateTrigger("2026-03-29 02:30:00", timezone="Europe/Berlin")
    assert trigger.run_date.timetuple()[:6] == (2026, 3, 29, 3, 30, 0)
    theirs = aps_date.DateTrigger("2026-03-29 02:30:00", timezone="Europe/Berlin")
    assert trigger.run_date.timestamp() == theirs.run_date.timestamp()
    assert str(trigger) == "date[2026-03-29 03:30:00 CEST]"


def test_ambiguous_wall_time_is_the_first_occurrence():
    trigger = DateTrigger("2026-10-25 02:30:00", timezone="Europe/Berlin")
    assert trigger.run_date.utcoffset() == timedelta(hours=2)
    assert str(trigger) == "date[2026-10-25 02:30:00 CEST]"


def test_a_previous_fire_time_finishes_it_as_in_apscheduler():
    trigger, theirs = DateTrigger(RUN), aps_date.DateTrigger(RUN)
    earlier = RUN - timedelta(hours=1)
    assert trigger.get_next_fire_time(earlier, earlier) is None
    assert theirs.get_next_fire_time(earlier, earlier) is None


def test_or_trigger_keeps_a_later_date_member():
    # A previous fire time before run_date (from another OR member) does not finish
    # the date member inside an OrTrigger, unlike APScheduler (documented difference).
    from nbsched.triggers.combining import OrTrigger
    from nbsched.triggers.interval import IntervalTrigger

    hourly = IntervalTrigger(hours=1, start_date=RUN - timedelta(minutes=150))
    trigger = OrTrigger([DateTrigger(RUN + timedelta(minutes=5)), hourly])
    now = RUN - timedelta(hours=3)
    assert [t - RUN for t in trigger.preview(4, now)] == [
        timedelta(minutes=-150), timedelta(minutes=-90), timedelta(minutes=-30),
        timedelta(minutes=5),
    ]  # fmt: skip


def test_display():
    trigger = DateTrigger("2026-12-01 09:00:00", timezone="Europe/Berlin")
    assert str(trigger) == "date[2026-12-01 09:00:00 CET]"
    assert repr(trigger) == "<DateTrigger (run_date='2026-12-01 09:00:00 CET')>"
    assert trigger.describe() == "once at 2026-12-01 09:00:00 (Europe/Berlin)"
    assert DateTrigger(RUN.astimezone(UTC)).describe() == "once at 2026-12-01 08:00:00 (UTC)"


@seed(5)
@settings(max_examples=400, deadline=None, derandomize=True)
@given(
    when=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
    zone=st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe"]),
    as_string=st.booleans(),
    now_offset=st.integers(-10**7, 10**7),
)
def test_matches_apscheduler(when, zone, as_string, now_offset):
    value = when.strftime("%Y-%m-%d %H:%M:%S") if as_string else when
    ours, theirs = DateTrigger(value, zone), aps_date.DateTrigger(value, zone)
    now = theirs.run_date + timedelta(seconds=now_offset)
    expected = theirs.get_next_fire_time(None, now)
    actual = ours.get_next_fire_time(None, now)
    assert actual.timestamp() == expected.timestamp()
    if expected.replace(fold=0).utcoffset() >= expected.replace(fold=1).utcoffset():
        # The wall time exists: same reading and same printout.
        assert actual.timetuple()[:6] == expected.timetuple()[:6]
        assert (str(ours), repr(ours)) == (str(theirs), repr(theirs))
    assert ours.get_next_fire_time(actual, now) is None
    assert theirs.get_next_fire_time(expected, now) is None
