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

Deterministic: the cases come from ``random.Random`` with fixed seeds, not from
Hypothesis. (Hypothesis mixes literal constants from every imported module into its
draws, so even a derandomized test sees different cases in a full run than alone.)
Nothing reads the clock.
"""

from __future__ import annotations

import random
from bisect import bisect_left
from datetime import datetime, timedelta, timezone
from functools import cache
from zoneinfo import ZoneInfo

import pytest

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
CASES = 1500  # per trigger


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


SHIFTS = [-180, -60, -45, -30, -15, -1, 0, 1, 5, 10, 15, 20, 29, 30, 31, 45, 59, 60, 90]


def near_transition(rng: random.Random) -> tuple[ZoneInfo, datetime]:
    """A zone and a naive wall time within a few hours of one of its clock changes
    (whole minutes, often exactly on the change or inside the skipped/repeated span)."""
    key = rng.choice(sorted(ZONES))
    zone = ZoneInfo(key)
    change = rng.choice(transitions(key))
    before = (change - timedelta(seconds=1)).astimezone(zone)
    after = change.astimezone(zone)
    # The wall clock reading just before and at the change, then a shift around them.
    anchor = rng.choice([before + timedelta(seconds=1), after]).replace(tzinfo=None)
    minutes = rng.choice(SHIFTS) if rng.random() < 0.7 else rng.randint(-240, 240)
    return zone, anchor + timedelta(minutes=minutes)


def start_forms(rng: random.Random, zone: ZoneInfo, wall: datetime):
    """``wall`` as a trigger argument: naive, aware with either fold, text, or UTC."""
    form = rng.choice(["naive", "fold0", "fold1", "text", "utc"])
    if form == "naive":
        return wall
    if form == "text":
        return wall.strftime("%Y-%m-%d %H:%M:%S")
    if form == "utc":
        return _aware(zone, wall, 0).astimezone(UTC)
    return _aware(zone, wall, int(form == "fold1"))


def check_all(seed: int, check) -> None:
    """Run ``check(rng)`` for CASES cases; report every mismatch, not just the first."""
    rng = random.Random(seed)
    failures = []
    for index in range(CASES):
        try:
            check(rng)
        except AssertionError as exc:
            failures.append(f"case {index}: {exc}")
    assert not failures, f"{len(failures)} of {CASES} cases differ:\n" + "\n".join(failures[:5])


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
def test_interval_matches_apscheduler_on_transition_nights():
    def check(rng: random.Random) -> None:
        zone, wall = near_transition(rng)
        start = start_forms(rng, zone, wall)
        units = rng.choice(INTERVALS)
        now_minutes = rng.randint(-300, 600)
        end = None if rng.random() < 0.5 else wall + timedelta(minutes=rng.randint(0, 1500))
        ours = IntervalTrigger(start_date=start, end_date=end, timezone=zone, **units)
        theirs = aps_interval.IntervalTrigger(
            start_date=start, end_date=end, timezone=zone, **units
        )
        # ``now`` as the scheduler passes it: aware. In UTC, so that APScheduler's
        # ``start_date > now`` is a comparison of instants (see docs/triggers.md).
        now = theirs.start_date.astimezone(UTC) + timedelta(minutes=now_minutes)
        case = (zone.key, start, units, end, now)
        expected = _chain(theirs, None, now, 6)
        actual = _chain(ours, None, now, 6)
        assert list(map(_reading, actual)) == list(map(_reading, expected)), case
        if expected[0] is not None:
            # A resumed job: asked again without a previous fire time, a while later.
            later = expected[0].astimezone(UTC) + timedelta(minutes=rng.randint(1, 600))
            assert _reading(ours.get_next_fire_time(None, later)) == _reading(
                theirs.get_next_fire_time(None, later)
            ), (case, later)

    check_all(20261201, check)


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
def test_calendar_interval_matches_apscheduler_on_transition_nights():
    def check(rng: random.Random) -> None:
        zone, wall = near_transition(rng)
        start = wall.date() - timedelta(days=rng.choice([0, 0, 0, 1, 2, 7, 30]))
        clock = wall + timedelta(minutes=rng.choice([0, 0, -30, 15, 30]))
        end_days = None if rng.random() < 0.5 else rng.randint(0, 400)
        kwargs = {
            **rng.choice(CALENDAR_UNITS),
            "hour": clock.hour,
            "minute": clock.minute,
            "second": rng.choice([0, 0, 30]),
            "start_date": rng.choice([start, start.isoformat()]),
            "end_date": None if end_days is None else start + timedelta(days=end_days),
            "timezone": zone,
        }
        ours = CalendarIntervalTrigger(**kwargs)
        theirs = aps_calendar.CalendarIntervalTrigger(**kwargs)
        assert str(ours) == str(theirs)
        now = datetime.combine(start, datetime.min.time(), tzinfo=UTC) + timedelta(
            days=rng.randint(-5, 500)
        )
        expected = _chain(theirs, None, now, 8)
        actual = _chain(ours, None, now, 8)
        assert list(map(_reading, actual)) == list(map(_reading, expected)), (kwargs, now)

    check_all(20261202, check)


# --- date ---------------------------------------------------------------------------
def test_date_matches_apscheduler_on_transition_nights():
    def check(rng: random.Random) -> None:
        zone, wall = near_transition(rng)
        run_date = start_forms(rng, zone, wall)
        ours, theirs = DateTrigger(run_date, zone), aps_date.DateTrigger(run_date, zone)
        now = theirs.run_date.astimezone(UTC) + timedelta(minutes=rng.randint(-600, 600))
        case = (zone.key, run_date, now)
        expected = theirs.get_next_fire_time(None, now)
        actual = ours.get_next_fire_time(None, now)
        assert actual.timestamp() == expected.timestamp(), case
        if _exists(expected):
            assert _reading(actual) == _reading(expected), case
            assert (str(ours), repr(ours)) == (str(theirs), repr(theirs)), case
        else:
            # Deliberate difference: APScheduler keeps the impossible reading (02:30 on a
            # spring-forward night); nbsched shows the real wall time of the same instant.
            assert _exists(actual) and actual.tzinfo is expected.tzinfo, case
        assert ours.get_next_fire_time(actual, now) is None, case
        assert theirs.get_next_fire_time(expected, now) is None, case

    check_all(20261203, check)


def test_the_cases_cover_gaps_and_repeated_hours_in_every_zone():
    rng = random.Random(1)
    seen = set()
    for _ in range(CASES):
        zone, wall = near_transition(rng)
        aware = wall.replace(tzinfo=zone)
        first, second = aware.utcoffset(), aware.replace(fold=1).utcoffset()
        seen.add((zone.key, "gap" if first < second else "repeat" if first > second else "-"))
    assert seen == {(key, kind) for key in ZONES for kind in ("gap", "repeat", "-")}


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
