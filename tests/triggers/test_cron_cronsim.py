"""``CronTrigger.from_crontab`` against cronsim 2.8 (Debian/Vixie cron), DST included.

cronsim is the reference for the crontab form: generated crontab lines (lists, ranges,
steps, steps larger than their range, names, weekday 7) are run from generated start
times, half of them within three hours of a DST transition in Europe/Berlin,
America/New_York, Australia/Lord_Howe (30-minute shift), America/Sao_Paulo (midnight
transitions, 2016-2019) and Pacific/Chatham (02:45 -> 03:45), plus UTC. Our successive
fire times must be cronsim's successive answers, instant for instant.

Exclusions, each deliberate:

- Lines cronsim rejects (``CronSimError``: a day-of-month above 29 that no listed month
  has, when the day fields are ANDed) or gives up on (``StopIteration``, no match in 50
  years): nbsched accepts them and finds no or later fire times.
- A one-value range with a step (``5-5/2``): cronsim cannot tell it from ``5/2`` and
  reads it as "every 2nd from 5 to the maximum"; Vixie cron (and nbsched) read the
  range 5-5, so minute 5 alone (pinned by ``test_one_value_range_with_a_step``).
- A start inside the second pass of a repeated hour for a fixed-time line: cronsim is a
  function of the wall clock and answers with that wall time's first occurrence, which
  lies *before* the start; cron itself does not run such a line again in the second
  pass, and nbsched resumes after the repetition. The comparison stops at such an answer.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from nbsched.triggers.cron import CronTrigger

cronsim = pytest.importorskip("cronsim")

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
SAO_PAULO = ZoneInfo("America/Sao_Paulo")
CHATHAM = ZoneInfo("Pacific/Chatham")

# (zone, UTC instants of transitions in it)
TRANSITIONS = [
    (BERLIN, [datetime(2026, 3, 29, 1), datetime(2026, 10, 25, 1)]),
    (NEW_YORK, [datetime(2026, 3, 8, 7), datetime(2026, 11, 1, 6)]),
    (LORD_HOWE, [datetime(2026, 10, 3, 15, 30), datetime(2026, 4, 4, 15)]),
    (SAO_PAULO, [datetime(2018, 11, 4, 3), datetime(2019, 2, 17, 2)]),
    (CHATHAM, [datetime(2026, 9, 26, 14, 0), datetime(2026, 4, 4, 14, 0)]),
]
ZONES = [UTC] + [zone for zone, _ in TRANSITIONS]
MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
DOWS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]


def _part(low: int, high: int, names: list[str] | None = None) -> st.SearchStrategy[str]:
    @st.composite
    def part(draw: st.DrawFn) -> str:
        kind = draw(
            st.sampled_from(["single", "single", "range", "step", "from_step", "all_step", "name"])
        )
        a = draw(st.integers(low, high))
        b = draw(st.integers(a, high))
        if kind == "name" and names:
            return names[a - low]
        if kind == "range":
            return f"{a}-{b}"
        if kind == "step" and a < b:
            # Steps up to twice the range: cron takes a step larger than its range.
            # (Not a-a/n: see the module docstring.)
            return f"{a}-{b}/{draw(st.integers(1, 2 * (b - a) + 2))}"
        if kind == "from_step" and a < high:
            return f"{a}/{draw(st.integers(1, high - a + 3))}"
        if kind == "all_step":
            return f"*/{draw(st.integers(1, high - low + 3))}"
        return str(a)

    return st.lists(part(), min_size=1, max_size=3).map(",".join)


def _field(low: int, high: int, names: list[str] | None = None) -> st.SearchStrategy[str]:
    return _part(low, high, names) | st.just("*")


CRONTAB = st.builds(
    "{} {} {} {} {}".format,
    _field(0, 59),
    _field(0, 23),
    _field(1, 31) | st.just("*"),
    _field(1, 12, MONTHS) | st.just("*"),
    _field(0, 6, DOWS) | st.sampled_from(["*", "*", "7", "5-7", "0,7", "1-7/2", "5/2"]),
)
# Lines that fire often around a transition: a fixed or a wildcard minute and hour.
NIGHTLY = st.builds(
    "{} {} * * *".format,
    st.sampled_from(["0", "30", "45", "*/15", "*/20", "*", "5-35/10", "0,30", "59"]),
    st.sampled_from(["*", "*/2", "1", "2", "3", "0-4", "1-3", "2,3", "*/3", "0", "23"]),
)


@st.composite
def zone_and_start(draw: st.DrawFn) -> tuple[ZoneInfo, datetime]:
    if draw(st.booleans()):
        zone, instants = draw(st.sampled_from(TRANSITIONS))
        base = draw(st.sampled_from(instants)).replace(tzinfo=UTC)
        # Within three hours (the start is in the transition night) or three days (the
        # search crosses the transition from a plain day) of it.
        reach = draw(st.sampled_from([3 * 3600, 3 * 86400]))
        moment = base + timedelta(seconds=draw(st.integers(-reach, reach)))
    else:
        zone = draw(st.sampled_from(ZONES))
        moment = datetime(2016, 1, 1, tzinfo=UTC) + timedelta(
            seconds=draw(st.integers(0, 14 * 365 * 86400))
        )
    if draw(st.booleans()):
        moment = moment.replace(second=0)
    if draw(st.booleans()):
        moment += timedelta(microseconds=draw(st.integers(1, 999_999)))
    return zone, moment.astimezone(zone)


def _compare(expr: str, zone, now: datetime, steps: int) -> None:
    try:
        # cronsim answers strictly after its start, we at or after ours (rounded up to a
        # whole second): start it one second before our first candidate.
        first = now.astimezone(UTC).replace(microsecond=0)
        if now.microsecond:
            first += timedelta(seconds=1)
        reference = cronsim.CronSim(expr, (first - timedelta(seconds=1)).astimezone(zone))
    except cronsim.CronSimError:
        return
    trigger = CronTrigger.from_crontab(expr, timezone=zone)
    previous = None
    clock = now
    for _ in range(steps):
        try:
            expected = next(reference)
        except StopIteration:
            return
        actual = trigger.get_next_fire_time(previous, clock)
        assert actual is not None, (expr, str(zone), previous, clock)
        if expected.timestamp() < clock.timestamp():
            return  # a repeated wall time's first pass, already behind us (see above)
        assert actual.timestamp() == expected.timestamp(), (
            f"{expr!r} in {zone} after {previous} from {clock}: "
            f"cronsim {expected.isoformat()}, nbsched {actual.isoformat()}"
        )
        # Ours is a real wall time of that instant, in the trigger's zone.
        assert actual.tzinfo is zone or zone is UTC
        assert actual.astimezone(UTC).astimezone(zone).isoformat() == actual.isoformat()
        previous = clock = actual


COMMON = {
    "deadline": None,
    "derandomize": True,
    "suppress_health_check": [HealthCheck.too_slow],
}


@seed(2026_12_01)
@settings(max_examples=900, **COMMON)
@given(expr=CRONTAB, zone_start=zone_and_start())
def test_random_lines_match_cronsim(expr, zone_start):
    zone, now = zone_start
    _compare(expr, zone, now, 5)


@seed(31)
@settings(max_examples=700, **COMMON)
@given(expr=NIGHTLY, zone_start=zone_and_start())
def test_nightly_lines_across_transitions_match_cronsim(expr, zone_start):
    zone, now = zone_start
    _compare(expr, zone, now, 8)


@pytest.mark.parametrize(
    "expr", ["1-19 * 15,17,25 7-8/4 *", "* 8 9-11/4 * 1,3", "19-20/2 4,7,18 28 * 2"]
)
def test_step_larger_than_its_range_is_the_first_value(expr):
    start = datetime(2026, 1, 1, tzinfo=UTC)
    _compare(expr, UTC, start, 20)


def test_one_value_range_with_a_step():
    trigger = CronTrigger.from_crontab("5-5/2 * * * *", timezone=UTC)
    times = trigger.preview(2, datetime(2026, 1, 1, tzinfo=UTC))
    assert [t.isoformat() for t in times] == [
        "2026-01-01T00:05:00+00:00",
        "2026-01-01T01:05:00+00:00",
    ]


@pytest.mark.parametrize(("zone", "instants"), TRANSITIONS)
@pytest.mark.parametrize(
    "expr", ["30 2 * * *", "0 2 * * *", "30 1 * * *", "0 * * * *", "*/30 * * * *", "15 */2 * * *"]
)
def test_every_start_of_transition_nights(zone, instants, expr):
    """From every 13th minute of each transition night, the next 3 answers are cronsim's."""
    for instant in instants:
        moment = instant.replace(tzinfo=UTC) - timedelta(hours=4)
        for _ in range(8 * 60 // 13):
            _compare(expr, zone, moment.astimezone(zone), 3)
            moment += timedelta(minutes=13)


@pytest.mark.parametrize(("zone", "instants"), TRANSITIONS)
@pytest.mark.parametrize(
    "expr",
    ["*/15 2 * * 0", "* 2 * * sun", "*/30 0-3 * * 0", "0 * * * 0", "15 */2 * * 0", "30 2 * * 0"],
)
def test_searches_that_cross_a_transition_from_a_plain_day(zone, instants, expr):
    """Starts one to three days ahead of each transition (all on Sundays): the first
    answer lies in the transition night, seen from a day that keeps one offset."""
    for instant in instants:
        moment = instant.replace(tzinfo=UTC) - timedelta(days=3)
        while moment < instant.replace(tzinfo=UTC) - timedelta(hours=20):
            _compare(expr, zone, moment.astimezone(zone), 4)
            moment += timedelta(hours=5, minutes=17)
