"""Keyword-form CronTrigger against APScheduler 3.11's, on generated expressions.

Both triggers start from the same clock and are then fed their own previous answers;
at every step they must name the same instant, with the same wall-clock reading once
APScheduler's answer is shown as the real wall time of its instant (inside a
spring-forward gap APScheduler returns a nonexistent wall time such as
``02:30+01:00``, which is the instant 03:30 CEST; nbsched returns the latter). Start
times are drawn at random and within three hours of DST transitions in
Europe/Berlin, America/New_York, Australia/Lord_Howe (30-minute shift),
America/Sao_Paulo (midnight transitions) and Pacific/Chatham (a 45-minute zone). No
disagreement is tolerated.

One detail of the feeding: APScheduler compares its nonexistent answer with the clock
by wall reading, so asked again with ``now`` equal to that answer it returns the same
instant a second time. A scheduler always asks with a clock past the previous fire
time, so after such an answer APScheduler's clock is a microsecond past its instant.
Names with steps (``jan-jun/2``, difference 3 in docs/cron.md) are not generated.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from nbsched.triggers.cron import _UNKNOWN, CronTrigger

aps_cron = pytest.importorskip("apscheduler.triggers.cron")

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
SAO_PAULO = ZoneInfo("America/Sao_Paulo")
CHATHAM = ZoneInfo("Pacific/Chatham")
ZONES = [timezone.utc, BERLIN, NEW_YORK, LORD_HOWE, ZoneInfo("Asia/Kolkata"), SAO_PAULO, CHATHAM]
# (zone, UTC instant of a transition in it): start times land in gaps and folds.
TRANSITIONS = [
    (BERLIN, datetime(2026, 3, 29, 1, tzinfo=timezone.utc)),
    (BERLIN, datetime(2026, 10, 25, 1, tzinfo=timezone.utc)),
    (NEW_YORK, datetime(2026, 3, 8, 7, tzinfo=timezone.utc)),
    (NEW_YORK, datetime(2026, 11, 1, 6, tzinfo=timezone.utc)),
    (LORD_HOWE, datetime(2026, 10, 3, 15, 30, tzinfo=timezone.utc)),  # 02:00 -> 02:30
    (LORD_HOWE, datetime(2026, 4, 4, 15, tzinfo=timezone.utc)),  # 02:00 -> 01:30
    (SAO_PAULO, datetime(2018, 11, 4, 3, tzinfo=timezone.utc)),  # 00:00 -> 01:00
    (SAO_PAULO, datetime(2019, 2, 17, 2, tzinfo=timezone.utc)),  # 00:00 -> 23:00
    (CHATHAM, datetime(2026, 9, 26, 14, tzinfo=timezone.utc)),  # 02:45 -> 03:45
    (CHATHAM, datetime(2026, 4, 4, 14, tzinfo=timezone.utc)),  # 03:45 -> 02:45
]
WEEKDAY_NAMES = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
MONTH_NAMES = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]


def _numeric(low: int, high: int) -> st.SearchStrategy[str]:
    """One numeric cron part: a, a-b, a-b/n, a/n, */n or *."""
    span = high - low

    @st.composite
    def part(draw: st.DrawFn) -> str:
        kind = draw(
            st.sampled_from(["single", "range", "range_step", "from_step", "all_step", "all"])
        )
        a = draw(st.integers(low, high))
        if kind == "single":
            return str(a)
        if kind == "all":
            return "*"
        if kind == "all_step":
            return f"*/{draw(st.integers(1, max(1, min(span, 40))))}"
        if kind == "from_step":
            if a == high:
                return str(a)
            return f"{a}/{draw(st.integers(1, high - a))}"
        b = draw(st.integers(a, high))
        if kind == "range" or a == b:
            return f"{a}-{b}"
        return f"{a}-{b}/{draw(st.integers(1, b - a))}"

    return part()


def _names(names: list[str]) -> st.SearchStrategy[str]:
    @st.composite
    def part(draw: st.DrawFn) -> str:
        a = draw(st.integers(0, len(names) - 1))
        if draw(st.booleans()):
            return names[a]
        b = draw(st.integers(a, len(names) - 1))
        return f"{names[a]}-{names[b]}"

    return part()


def _listed(part: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.lists(part, min_size=1, max_size=3).map(",".join)


DAY_SPECIAL = st.sampled_from(["last"]) | st.builds(
    "{} {}".format,
    st.sampled_from(["1st", "2nd", "3rd", "4th", "5th", "last"]),
    st.sampled_from(WEEKDAY_NAMES),
)
FIELD_STRATEGIES = {
    "year": _listed(_numeric(2024, 2032)),
    "month": _listed(_numeric(1, 12) | _names(MONTH_NAMES)),
    "day": _listed(_numeric(1, 31) | DAY_SPECIAL),
    "week": _listed(_numeric(1, 53)),
    "day_of_week": _listed(_numeric(0, 6) | _names(WEEKDAY_NAMES)),
    "hour": _listed(_numeric(0, 23)),
    "minute": _listed(_numeric(0, 59)),
    "second": _listed(_numeric(0, 59)),
}


@st.composite
def trigger_kwargs(draw: st.DrawFn) -> dict:
    kwargs = {}
    for name, strategy in FIELD_STRATEGIES.items():
        # Rare fields (week, year) less often, so most cases still fire frequently.
        if draw(st.integers(0, 9)) < (2 if name in ("week", "year") else 5):
            kwargs[name] = draw(strategy)
    return kwargs


@st.composite
def zone_and_start(draw: st.DrawFn) -> tuple:
    if draw(st.booleans()):
        zone, base = draw(st.sampled_from(TRANSITIONS))
        # Within three hours (the start is in the transition night) or three days (the
        # search crosses the transition from a plain day) of it.
        reach = draw(st.sampled_from([3 * 3600, 3 * 86400]))
        moment = base + timedelta(seconds=draw(st.integers(-reach, reach)))
    else:
        zone = draw(st.sampled_from(ZONES))
        moment = datetime(2017, 1, 1, tzinfo=timezone.utc) + timedelta(
            seconds=draw(st.integers(0, 14 * 365 * 86400))
        )
    if draw(st.booleans()):
        moment = moment.replace(second=0)
    if draw(st.booleans()):
        moment += timedelta(microseconds=draw(st.integers(1, 999_999)))
    return zone, moment.astimezone(zone)


def _real(value: datetime | None) -> str | None:
    """The real wall time of ``value``'s instant, in its zone, as text with the offset."""
    if value is None:
        return None
    return value.astimezone(timezone.utc).astimezone(value.tzinfo).isoformat()


def _walk_both(kwargs: dict, zone, now: datetime, steps: int, end=None) -> None:
    ours = CronTrigger(timezone=zone, end_date=end, **kwargs)
    theirs = aps_cron.CronTrigger(timezone=zone, end_date=end, **kwargs)
    assert str(ours) == str(theirs)
    assert repr(ours) == repr(theirs)
    our_previous = aps_previous = None
    our_now = aps_now = now
    for _ in range(steps):
        expected = theirs.get_next_fire_time(aps_previous, aps_now)
        actual = ours.get_next_fire_time(our_previous, our_now)
        assert _real(actual) == _real(expected), (
            f"{kwargs} in {zone}: after {our_previous} from {our_now}: "
            f"APScheduler {expected!r}, nbsched {actual!r}"
        )
        if actual is None:
            return
        assert _real(actual) == actual.isoformat()  # ours is a real wall time
        our_previous = our_now = actual
        aps_previous = aps_now = expected
        if _real(expected) != expected.isoformat():  # nonexistent: see the docstring
            aps_now = (expected.astimezone(timezone.utc) + timedelta(microseconds=1)).astimezone(
                zone
            )


@seed(20261124)
@settings(
    max_examples=900,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(kwargs=trigger_kwargs(), zone_start=zone_and_start(), bounded=st.booleans())
def test_keyword_form_matches_apscheduler(kwargs, zone_start, bounded):
    zone, now = zone_start
    # An end date keeps APScheduler from walking to year 9999 on impossible combinations.
    end = now + timedelta(days=400) if bounded else now + timedelta(days=4 * 366)
    _walk_both(kwargs, zone, now, 6, end)


NIGHTLY = st.fixed_dictionaries(
    {
        "minute": st.sampled_from(["*/7", "*/15", "*/30", "0", "30", "45", "0,30", "5-35/10"]),
        "second": st.sampled_from(["0", "0", "30", "*/20"]),
    },
    optional={
        "hour": st.sampled_from(["*", "0", "1", "2", "3", "23", "0-4", "1-3", "*/2", "2,3"]),
        "day_of_week": st.sampled_from(["sun", "mon-fri", "sat,sun", "*"]),
        "day": st.sampled_from(["*", "last", "1st sun", "1-7", "*/2"]),
    },
)


@seed(7)
@settings(
    max_examples=500,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(kwargs=NIGHTLY, zone_start=zone_and_start())
def test_dense_schedules_across_transitions(kwargs, zone_start):
    """Schedules that fire often around the transition hours, over many steps."""
    zone, now = zone_start
    # The end date stops both searches soon on combinations that never match.
    _walk_both(kwargs, zone, now, 30, now + timedelta(days=120))


@pytest.mark.parametrize(("zone", "instant"), TRANSITIONS)
@pytest.mark.parametrize(
    "kwargs",
    [
        {"day_of_week": "mon", "hour": 0},
        {"day_of_week": "sun", "hour": 2, "minute": 30},
        {"day_of_week": "mon,tue", "hour": "0-2", "minute": "*/30"},
        {"day": "1-10,20-31", "day_of_week": "sat,sun,mon", "hour": 1},
        {"week": "1-52", "day_of_week": "mon", "hour": 3, "minute": 15},
        {"day": "last sun", "hour": 0},
        {"hour": 0, "minute": 0},
    ],
)
def test_weekly_searches_that_cross_a_transition(zone, instant, kwargs):
    """Starts one to three days ahead of each transition, so that APScheduler's day by
    day weekday stepping (elapsed time: a step across a gap lands late) crosses it."""
    moment = instant - timedelta(days=3)
    while moment < instant - timedelta(hours=20):
        _walk_both(kwargs, zone, moment.astimezone(zone), 3)
        moment += timedelta(hours=5, minutes=17)


# Day-level schedules over many transitions: the searches that take the wall-clock
# shortcut (``CronTrigger._exact_wall``: every carry between days of one offset) and the
# ones that cannot (a carry across a change) must both give APScheduler's answers.
_DAY_LEVEL_FIELDS = {
    "month": ["*", "2", "jan,apr,jul,oct", "3-11/2", "10,11", "3", "oct-dec", "*/5"],
    "day": ["1", "29", "31", "last", "last fri", "2nd tue", "1st sun", "1,15", "20-31/3",
            "last sun", "5th mon"],
    "hour": ["0", "1", "2", "3", "23", "0,12", "2-3", "22"],
    "minute": ["0", "30", "45", "0,30"],
    "second": ["0", "0", "15"],
}


def _day_level_cases(count: int, rng) -> list:
    cases = []
    for _ in range(count):
        kwargs = {"day": rng.choice(_DAY_LEVEL_FIELDS["day"])}
        for name in ("month", "hour", "minute", "second"):
            if rng.random() < 0.6:
                kwargs[name] = rng.choice(_DAY_LEVEL_FIELDS[name])
        zone, base = rng.choice(TRANSITIONS)
        moment = base + timedelta(seconds=rng.randint(-200 * 86400, 200 * 86400))
        if rng.random() < 0.5:
            moment = moment.replace(minute=0, second=0)
        cases.append((kwargs, zone, moment.astimezone(zone)))
    return cases


def test_day_level_schedules_over_many_transitions(monkeypatch):
    import random

    taken = {"exact": 0, "unknown": 0}
    original = CronTrigger._exact_wall

    def counted(self, *values):
        answer = original(self, *values)
        taken["unknown" if answer is _UNKNOWN else "exact"] += 1
        return answer

    monkeypatch.setattr(CronTrigger, "_exact_wall", counted)
    for kwargs, zone, now in _day_level_cases(300, random.Random(20261201)):
        _walk_both(kwargs, zone, now, 12, now + timedelta(days=8 * 366))
    # Both branches really ran (the shortcut and the replay behind it).
    assert taken["exact"] > 200 and taken["unknown"] > 100, taken
