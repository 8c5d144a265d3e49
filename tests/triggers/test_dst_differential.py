"""Differential tests against APScheduler 3.11 on DST transition nights.

Every case is built around a real clock change in one of five zones chosen for their
awkward rules: Europe/Berlin and America/New_York (one hour at 02:00/03:00),
Australia/Lord_Howe (30 minutes), America/Sao_Paulo (at midnight, so a whole day starts
at 01:00 or 23:00 happens twice; DST ended there in 2019) and Pacific/Chatham (02:45 ->
03:45, +12:45/+13:45). Start dates, run dates and times of day are drawn within a few
hours of a transition, including wall times that do not exist or happen twice, given
naive, aware (either ``fold``) or as text. The interval, calendar-interval and date
triggers must give the same fire times as APScheduler -- same instants and the same wall
readings -- except where docs/triggers.md lists a deliberate difference (a date trigger
shows a nonexistent naive wall time as the real time of the same instant).

Deterministic: fixed seeds, derandomized, no clock reads.
"""

from __future__ import annotations

from bisect import bisect_left
from datetime import date, datetime, timedelta, timezone
from functools import cache
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from nbsched.triggers.calendarinterval import CalendarIntervalTrigger
from nbsched.triggers.date import DateTrigger
from nbsched.triggers.interval import IntervalTrigger

aps_interval = pytest.importorskip("apscheduler.triggers.interval")
aps_calendar = pytest.importorskip("apscheduler.triggers.calendarinterval")
aps_date = pytest.importorskip("apscheduler.triggers.date")

UTC = timezone.utc
ZONES = {
    "Europe/Berlin": (2020, 2028),
    "America/New_York": (2020, 2028),
    "Australia/Lord_Howe": (2020, 2028),
    "America/Sao_Paulo": (2012, 2019),
    "Pacific/Chatham": (2020, 2028),
}
SETTINGS = settings(
    max_examples=400,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@cache
def transitions(key: str) -> tuple[datetime, ...]:
    """The UTC instants at which ``key``'s offset changes within its year range."""
    zone = ZoneInfo(key)
    first, last = ZONES[key]
    found = []
    moment = datetime(first, 1, 1, tzinfo=UTC)
    end = datetime(last + 1, 1, 1, tzinfo=UTC)
    step = timedelta(hours=6)
    offset = moment.astimezone(zone).utcoffset()
    while moment < end:
        following = moment + step
        new_offset = following.astimezone(zone).utcoffset()
        if new_offset != offset:
            low, high = moment, following  # the change happens in (low, high]
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                if middle.astimezone(zone).utcoffset() == offset:
                    low = middle
                else:
                    high = middle
            found.append(high.replace(microsecond=0))
            offset = new_offset
        moment = following
    return tuple(found)


def test_every_zone_has_transitions_of_both_kinds():
    for key in ZONES:
        zone = ZoneInfo(key)
        changes = transitions(key)
        assert len(changes) >= 10, key
        kinds = {
            t.astimezone(zone).utcoffset() > (t - timedelta(seconds=1)).astimezone(zone).utcoffset()
            for t in changes
        }
        assert kinds == {True, False}, key  # spring forward and fall back
    # The binary search lands on the very second (Berlin, 2026-03-29 01:00 UTC).
    assert datetime(2026, 3, 29, 1, tzinfo=UTC) in transitions("Europe/Berlin")
    assert bisect_left(transitions("Europe/Berlin"), datetime(2026, 1, 1, tzinfo=UTC)) > 0


@st.composite
def near_transition(draw: st.DrawFn) -> tuple[ZoneInfo, datetime]:
    """A zone and a naive wall time within a few hours of one of its clock changes
    (whole minutes, often exactly on the change or inside the skipped/repeated span)."""
    key = draw(st.sampled_from(sorted(ZONES)))
    zone = ZoneInfo(key)
    change = draw(st.sampled_from(transitions(key)))
    before = (change - timedelta(seconds=1)).astimezone(zone)
    after = change.astimezone(zone)
    # The wall clock reading just before and at the change, then a shift around them.
    anchor = draw(st.sampled_from([before + timedelta(seconds=1), after])).replace(tzinfo=None)
    minutes = draw(
        st.sampled_from(
            [-180, -60, -45, -30, -15, -1, 0, 1, 5, 10, 15, 20, 29, 30, 31, 45, 59, 60, 90]
        )
        | st.integers(-240, 240)
    )
    return zone, anchor + timedelta(minutes=minutes)


def _aware(zone: ZoneInfo, wall: datetime, fold: int) -> datetime:
    return wall.replace(tzinfo=zone, fold=fold)


def _exists(value: datetime) -> bool:
    """Whether an aware wall time is a real reading (not inside a spring-forward gap)."""
    return value.replace(fold=0).utcoffset() >= value.replace(fold=1).utcoffset()


def _reading(value: datetime | None) -> str | None:
    """Wall reading plus offset: equal readings mean equal instants *and* wall times."""
    return None if value is None else value.isoformat()


def _chain(trigger, previous, now, count):
    times = []
    for _ in range(count):
        fire_time = trigger.get_next_fire_time(previous, now)
        times.append(fire_time)
        if fire_time is None:
            break
        previous = now = fire_time
    return times


INTERVALS = [
    {"minutes": 15}, {"minutes": 30}, {"minutes": 45}, {"hours": 1}, {"minutes": 7},
    {"hours": 1, "minutes": 30}, {"hours": 2}, {"hours": 12}, {"days": 1}, {"seconds": 900},
    {"weeks": 1},
]  # fmt: skip
CALENDAR_UNITS = [
    {"days": 1}, {"days": 2}, {"days": 3}, {"weeks": 1}, {"months": 1}, {"years": 1},
    {"months": 1, "days": 1}, {"weeks": 1, "days": 1},
]  # fmt: skip


# --- interval -----------------------------------------------------------------------
@seed(20261201)
@SETTINGS
@given(
    case=near_transition(),
    form=st.sampled_from(["naive", "fold0", "fold1", "text", "utc"]),
    units=st.sampled_from(INTERVALS),
    now_minutes=st.integers(-300, 600),
    end_minutes=st.none() | st.integers(0, 1500),
    jump=st.booleans(),
)
def test_interval_matches_apscheduler_on_transition_nights(
    case, form, units, now_minutes, end_minutes, jump
):
    zone, wall = case
    if form == "naive":
        start = wall
    elif form == "text":
        start = wall.strftime("%Y-%m-%d %H:%M:%S")
    elif form == "utc":
        start = _aware(zone, wall, 0).astimezone(UTC)
    else:
        start = _aware(zone, wall, int(form == "fold1"))
    end = None if end_minutes is None else wall + timedelta(minutes=end_minutes)
    ours = IntervalTrigger(start_date=start, end_date=end, timezone=zone, **units)
    theirs = aps_interval.IntervalTrigger(start_date=start, end_date=end, timezone=zone, **units)
    # ``now`` as the scheduler passes it: aware. In UTC, so that APScheduler's
    # ``start_date > now`` is a comparison of instants (see docs/triggers.md).
    now = theirs.start_date.astimezone(UTC) + timedelta(minutes=now_minutes)
    expected = _chain(theirs, None, now, 6)
    actual = _chain(ours, None, now, 6)
    assert list(map(_reading, actual)) == list(map(_reading, expected)), (ours, now)
    if jump and expected[0] is not None:
        # A resumed job: asked again without a previous fire time, hours later.
        later = expected[0] + timedelta(minutes=now_minutes % 97 + 1)
        assert _reading(ours.get_next_fire_time(None, later)) == _reading(
            theirs.get_next_fire_time(None, later)
        )


def test_interval_jitter_keeps_fold_on_a_fall_back_night():
    eastern = ZoneInfo("US/Eastern")
    start = datetime(2013, 11, 3, 1, 35, tzinfo=eastern)  # EDT, the first 01:35
    trigger = IntervalTrigger(hours=1, start_date=start, jitter=5)
    for _ in range(50):
        fire_time = trigger.get_next_fire_time(None, start + timedelta(seconds=1))
        delay = fire_time.astimezone(UTC) - start.astimezone(UTC)
        assert timedelta(hours=1) <= delay <= timedelta(hours=1, seconds=5)
        assert fire_time.fold == 1  # the second 01:35 (EST)


# --- calendar interval --------------------------------------------------------------
@st.composite
def calendar_cases(draw: st.DrawFn):
    zone, wall = draw(near_transition())
    start = wall.date() - timedelta(days=draw(st.sampled_from([0, 0, 0, 1, 2, 7, 30])))
    clock = wall + timedelta(minutes=draw(st.sampled_from([0, 0, -30, 15, 30])))
    counts = draw(st.sampled_from(CALENDAR_UNITS))
    end = draw(st.none() | st.integers(0, 400))
    return zone, {
        **counts,
        "hour": clock.hour,
        "minute": clock.minute,
        "second": draw(st.sampled_from([0, 0, 30])),
        "start_date": draw(st.sampled_from([start, start.isoformat()])),
        "end_date": None if end is None else start + timedelta(days=end),
        "timezone": zone,
    }


@seed(20261202)
@SETTINGS
@given(case=calendar_cases(), now_days=st.integers(-5, 500))
def test_calendar_interval_matches_apscheduler_on_transition_nights(case, now_days):
    _zone, kwargs = case
    ours = CalendarIntervalTrigger(**kwargs)
    theirs = aps_calendar.CalendarIntervalTrigger(**kwargs)
    assert str(ours) == str(theirs)
    start = date.fromisoformat(str(kwargs["start_date"]))
    now = datetime.combine(start, datetime.min.time(), tzinfo=UTC) + timedelta(days=now_days)
    expected = _chain(theirs, None, now, 8)
    actual = _chain(ours, None, now, 8)
    assert list(map(_reading, actual)) == list(map(_reading, expected)), (kwargs, now)


# --- date ---------------------------------------------------------------------------
@seed(20261203)
@SETTINGS
@given(
    case=near_transition(),
    form=st.sampled_from(["naive", "fold0", "fold1", "text", "utc"]),
    now_minutes=st.integers(-600, 600),
)
def test_date_matches_apscheduler_on_transition_nights(case, form, now_minutes):
    zone, wall = case
    if form == "naive":
        run_date = wall
    elif form == "text":
        run_date = wall.strftime("%Y-%m-%d %H:%M:%S")
    elif form == "utc":
        run_date = _aware(zone, wall, 0).astimezone(UTC)
    else:
        run_date = _aware(zone, wall, int(form == "fold1"))
    ours, theirs = DateTrigger(run_date, zone), aps_date.DateTrigger(run_date, zone)
    now = theirs.run_date.astimezone(UTC) + timedelta(minutes=now_minutes)
    expected = theirs.get_next_fire_time(None, now)
    actual = ours.get_next_fire_time(None, now)
    assert actual.timestamp() == expected.timestamp()
    if _exists(expected):
        assert _reading(actual) == _reading(expected)
        assert (str(ours), repr(ours)) == (str(theirs), repr(theirs))
    else:
        # Deliberate difference: APScheduler keeps the impossible reading (02:30 on a
        # spring-forward night); nbsched shows the real wall time of the same instant.
        assert _exists(actual) and actual.tzinfo is expected.tzinfo
    assert ours.get_next_fire_time(actual, now) is None
    assert theirs.get_next_fire_time(expected, now) is None


def test_interval_never_answers_before_start_date_when_now_shares_its_zone():
    # Deliberate difference: APScheduler compares start_date > now by wall reading when
    # both share a tzinfo, so inside a repeated hour it can answer a time before
    # start_date (02:45 CEST precedes 02:30 CET). nbsched compares instants.
    berlin = ZoneInfo("Europe/Berlin")
    start = datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=berlin)  # 01:30 UTC
    now = datetime(2026, 10, 25, 2, 45, tzinfo=berlin)  # 00:45 UTC, earlier
    ours = IntervalTrigger(minutes=15, start_date=start)
    theirs = aps_interval.IntervalTrigger(minutes=15, start_date=start)
    assert ours.get_next_fire_time(None, now).isoformat() == "2026-10-25T02:30:00+01:00"
    assert theirs.get_next_fire_time(None, now).isoformat() == "2026-10-25T02:45:00+02:00"
