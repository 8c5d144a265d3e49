"""``CronTrigger.from_crontab``: real (Vixie) cron semantics, checked against croniter 7.

croniter is run with ``implement_cron_bug=True``, which is Vixie's rule that a day field
starting with ``*`` (such as ``*/2``) does not count as restricted; without it croniter
ORs ``*/2`` with the weekday field, which real cron does not. The comparison avoids DST
transitions (croniter fires gap times at the end of the gap and repeated times twice;
our rule is documented in docs/cron.md): it runs in zones without DST, and in
Europe/Berlin only while no UTC offset change lies between the start and the answer.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, seed, settings
from hypothesis import strategies as st

from nbsched.triggers.cron import CronTrigger

croniter_mod = pytest.importorskip("croniter")

UTC = timezone.utc


def _run(expr: str, start: datetime, n: int, tz="UTC") -> list[datetime]:
    trigger = CronTrigger.from_crontab(expr, timezone=tz)
    return trigger.preview(n, now=start)


@pytest.mark.parametrize(
    ("expr", "weekdays"),
    [
        ("0 0 * * 0", {"Sun"}),
        ("0 0 * * 7", {"Sun"}),
        ("0 0 * * 1-5", {"Mon", "Tue", "Wed", "Thu", "Fri"}),
        ("0 0 * * 5-7", {"Fri", "Sat", "Sun"}),
        ("0 0 * * sun,sat", {"Sat", "Sun"}),
        ("0 0 * * MON-wed", {"Mon", "Tue", "Wed"}),
        ("0 0 * * */2", {"Sun", "Tue", "Thu", "Sat"}),
    ],
)
def test_weekday_numbering_is_crons(expr, weekdays):
    times = _run(expr, datetime(2026, 1, 1, tzinfo=UTC), 30)
    assert {t.strftime("%a") for t in times} == weekdays


def test_restricted_day_fields_are_ored():
    # The 13th of the month OR any Friday.
    times = _run("0 0 13 * 5", datetime(2026, 1, 31, tzinfo=UTC), 6)
    assert [t.date().isoformat() for t in times] == [
        "2026-02-06",
        "2026-02-13",  # a Friday the 13th fires once
        "2026-02-20",
        "2026-02-27",
        "2026-03-06",
        "2026-03-13",
    ]


def test_star_prefixed_day_field_means_and():
    # Vixie: "*/2" starts with "*", so it counts as unrestricted -> AND with Monday.
    times = _run("0 0 */2 * 1", datetime(2026, 1, 1, tzinfo=UTC), 4)
    assert all(t.day % 2 == 1 and t.strftime("%a") == "Mon" for t in times)


def test_full_weekday_list_with_restricted_day_means_every_day():
    times = _run("0 0 1 * 0-6", datetime(2026, 1, 1, tzinfo=UTC), 3)
    assert [t.day for t in times] == [1, 2, 3]


@pytest.mark.parametrize(
    ("alias", "expected"),
    [
        ("@yearly", "2027-01-01T00:00:00+00:00"),
        ("@annually", "2027-01-01T00:00:00+00:00"),
        ("@monthly", "2026-02-01T00:00:00+00:00"),
        ("@weekly", "2026-01-18T00:00:00+00:00"),
        ("@daily", "2026-01-15T00:00:00+00:00"),
        ("@midnight", "2026-01-15T00:00:00+00:00"),
        ("@hourly", "2026-01-14T11:00:00+00:00"),
        ("@HOURLY", "2026-01-14T11:00:00+00:00"),
    ],
)
def test_aliases(alias, expected):
    start = datetime(2026, 1, 14, 10, 30, tzinfo=UTC)
    assert _run(alias, start, 1)[0].isoformat() == expected


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("* * * *", "expr: '* * * *': a crontab line has 5 fields"),
        ("* * * * * *", "got 6"),
        ("@sometimes", "unknown shortcut"),
        ("60 * * * *", "minute: '60': out of range 0-59"),
        ("* 24 * * *", "hour: '24': out of range 0-23"),
        ("* * 0 * *", "day: '0': out of range 1-31"),
        ("* * * 13 *", "month: '13': out of range 1-12"),
        ("* * * * 8", "day_of_week: '8': out of range 0-7"),
        ("* * * * fri-mon", "range runs backwards"),
        ("* * * * funday", "unknown weekday name 'funday'"),
        ("* * * * 1/0", "step must be positive"),
        ("*/0 * * * *", "minute: '*/0': step must be positive"),
    ],
)
def test_errors(expr, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        CronTrigger.from_crontab(expr)


def test_non_string_is_a_type_error():
    with pytest.raises(TypeError, match="expr"):
        CronTrigger.from_crontab(5)


def test_str_shows_weekdays_by_name():
    trigger = CronTrigger.from_crontab("30 9 * * 1-5", timezone="Europe/Berlin")
    assert str(trigger) == "cron[month='*', day='*', day_of_week='mon-fri', hour='9', minute='30']"
    assert trigger.describe() == "at 09:30 on Monday through Friday (Europe/Berlin)"


def test_crontab_trigger_pickles_with_its_or_rule():
    import pickle

    trigger = CronTrigger.from_crontab("0 0 13 * 5", timezone="UTC")
    clone = pickle.loads(pickle.dumps(trigger))
    assert clone == trigger
    assert clone.day_or is True
    start = datetime(2026, 1, 31, tzinfo=UTC)
    assert clone.preview(4, start) == trigger.preview(4, start)
    # The same fields without the OR rule are a different trigger.
    assert trigger != CronTrigger(day="13", day_of_week="fri", hour=0, minute=0, timezone="UTC")


def test_or_rule_looks_at_the_first_character_only():
    """Vixie: "1,*/2" does not start with "*", so with "0-6" it is OR: every day.

    (croniter 7 sees the "*" inside the list and ANDs instead.)
    """
    times = _run("0 0 1,*/2 * 0-6", datetime(2024, 1, 1, 1, tzinfo=UTC), 3)
    assert [t.day for t in times] == [2, 3, 4]


def test_degenerate_range_is_one_value():
    """croniter 7 reads "45-45" as every minute; cron (and we) read it as minute 45."""
    times = _run("45-45 * * * *", datetime(2024, 1, 1, tzinfo=UTC), 2)
    assert [t.minute for t in times] == [45, 45]


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        # Steps larger than their range are cron's first value (about 7% of random lines).
        (
            "1-19 * 15,17,25 7-8/4 *",
            "cron[month='7', day='15,17,25', day_of_week='*', hour='*', minute='1-19']",
        ),
        (
            "* 8 9-11/4 * 1,3",
            "cron[month='*', day='9', day_of_week='mon,wed', hour='8', minute='*']",
        ),
        (
            "19-20/2 4,7,18 28 * 2",
            "cron[month='*', day='28', day_of_week='tue', hour='4,7,18', minute='19']",
        ),
        (
            "*/70 * * jan-feb/5 *",
            "cron[month='jan', day='*', day_of_week='*', hour='*', minute='0']",
        ),
        # "a/n" on weekdays runs to cron's 7 (Sunday again).
        ("0 0 * * 5/2", "cron[month='*', day='*', day_of_week='fri,sun', hour='0', minute='0']"),
    ],
)
def test_steps_larger_than_the_range_are_accepted(expr, expected):
    assert str(CronTrigger.from_crontab(expr, timezone="UTC")) == expected


def test_keyword_form_still_rejects_a_step_larger_than_its_range():
    with pytest.raises(ValueError, match="the step value"):
        CronTrigger(month="7-8/4", timezone="UTC")


# --- DST: Debian/Vixie cron's rule (cronsim is the reference) -----------------------
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def _walls(expr: str, zone, start: datetime, n: int) -> list[str]:
    return [t.isoformat() for t in CronTrigger.from_crontab(expr, zone).preview(n, start)]


def test_fixed_time_in_a_spring_gap_runs_when_the_gap_ends():
    assert _walls("30 2 * * *", BERLIN, datetime(2026, 3, 28, 12, tzinfo=BERLIN), 3) == [
        "2026-03-29T03:00:00+02:00",
        "2026-03-30T02:30:00+02:00",
        "2026-03-31T02:30:00+02:00",
    ]


def test_fixed_time_in_a_repeated_hour_runs_once():
    assert _walls("30 1 * * *", NEW_YORK, datetime(2026, 10, 31, 12, tzinfo=NEW_YORK), 3) == [
        "2026-11-01T01:30:00-04:00",
        "2026-11-02T01:30:00-05:00",
        "2026-11-03T01:30:00-05:00",
    ]


def test_wildcard_hour_runs_every_elapsed_hour():
    spring = _walls("30 * * * *", NEW_YORK, datetime(2026, 3, 8, 0, 45, tzinfo=NEW_YORK), 3)
    assert spring == [
        "2026-03-08T01:30:00-05:00",
        "2026-03-08T03:30:00-04:00",
        "2026-03-08T04:30:00-04:00",
    ]
    fall = _walls("30 * * * *", NEW_YORK, datetime(2026, 11, 1, 0, 45, tzinfo=NEW_YORK), 4)
    assert fall == [
        "2026-11-01T01:30:00-04:00",
        "2026-11-01T01:30:00-05:00",
        "2026-11-01T02:30:00-05:00",
        "2026-11-01T03:30:00-05:00",
    ]


def test_crontab_and_keyword_forms_differ_only_in_the_dst_rule():
    keyword = CronTrigger(hour=2, minute=30, timezone=BERLIN)
    crontab = CronTrigger.from_crontab("30 2 * * *", BERLIN)
    assert keyword != crontab
    start = datetime(2026, 3, 28, 12, tzinfo=BERLIN)
    assert keyword.preview(1, start)[0].isoformat() == "2026-03-29T03:30:00+02:00"
    assert crontab.preview(1, start)[0].isoformat() == "2026-03-29T03:00:00+02:00"
    summer = datetime(2026, 6, 1, tzinfo=BERLIN)
    assert keyword.preview(5, summer) == crontab.preview(5, summer)


# --- differential against croniter -------------------------------------------------
def _part(low: int, high: int, names: list[str] | None = None) -> st.SearchStrategy[str]:
    @st.composite
    def part(draw: st.DrawFn) -> str:
        kind = draw(st.sampled_from(["single", "range", "step", "all_step", "name"]))
        a = draw(st.integers(low, high))
        b = draw(st.integers(a, high))
        if kind == "name" and names:
            return names[a - low]
        if kind == "range" and b > a:
            # b > a: croniter reads a degenerate range "a-a" as "*" (a bug, see
            # test_degenerate_range_is_one_value), so it is left out here.
            return f"{a}-{b}"
        if kind == "step" and b > a:
            return f"{a}-{b}/{draw(st.integers(1, b - a))}"
        if kind == "all_step":
            return f"*/{draw(st.integers(1, high - low))}"
        return str(a)

    return st.lists(part(), min_size=1, max_size=3).map(",".join) | st.just("*")


MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
DOWS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
CRONTAB = st.builds(
    "{} {} {} {} {}".format,
    _part(0, 59),
    _part(0, 23),
    _part(1, 31),
    _part(1, 12, MONTHS),
    _part(0, 6, DOWS) | st.sampled_from(["7", "5-7", "0,7", "1-7/2"]),
)
START = st.datetimes(datetime(2024, 1, 1), datetime(2031, 1, 1))
NO_DST_ZONES = [UTC, ZoneInfo("Asia/Kolkata"), ZoneInfo("Asia/Tokyo")]


def _croniter_times(expr: str, start: datetime, n: int) -> list[datetime]:
    day, weekday = expr.split()[2::2]
    if any("*" in f and not f.startswith("*") for f in (day, weekday)):
        # croniter decides "unrestricted" by a "*" anywhere in the other day field
        # ("1,*/2"); Vixie cron (and we) by the first character. Not comparable.
        raise croniter_mod.CroniterBadDateError("not comparable")
    it = croniter_mod.croniter(expr, start, implement_cron_bug=True)
    return [it.get_next(datetime) for _ in range(n)]


@seed(424242)
@settings(max_examples=400, deadline=None, derandomize=True)
@given(expr=CRONTAB, start=START, zone=st.sampled_from(NO_DST_ZONES))
def test_matches_croniter_without_dst(expr, start, zone):
    start = start.replace(tzinfo=zone)
    try:
        expected = _croniter_times(expr, start, 5)
    except croniter_mod.CroniterBadDateError:
        return  # croniter gives up (impossible date within its search limit)
    # croniter's get_next is strictly after the start; ours fires at the start itself.
    ours = CronTrigger.from_crontab(expr, timezone=zone).preview(6, now=start)
    ours = [t for t in ours if t > start][:5]
    assert [t.isoformat() for t in ours] == [t.isoformat() for t in expected], expr


@seed(99)
@settings(max_examples=200, deadline=None, derandomize=True)
@given(expr=CRONTAB, start=START)
def test_matches_croniter_in_berlin_away_from_transitions(expr, start):
    zone = ZoneInfo("Europe/Berlin")
    start = start.replace(tzinfo=zone)
    try:
        expected = _croniter_times(expr, start, 3)
    except croniter_mod.CroniterBadDateError:
        return
    ours = CronTrigger.from_crontab(expr, timezone=zone).preview(4, now=start)
    ours = [t for t in ours if t > start][:3]
    if (start + timedelta(days=60)).utcoffset() != start.utcoffset():
        return  # a transition may lie ahead: not comparable
    for mine, theirs in zip(ours, expected):
        if theirs - start > timedelta(days=60):
            break
        assert mine.isoformat() == theirs.isoformat(), expr


def test_from_crontab_accepts_start_end_and_jitter() -> None:
    from datetime import datetime, timezone

    trigger = CronTrigger.from_crontab(
        "0 9 * * 1-5", "UTC", start_date="2027-01-01", end_date="2027-01-05", jitter=5
    )
    assert trigger.jitter == 5
    before = datetime(2026, 6, 1, tzinfo=timezone.utc)
    assert trigger.preview(5, now=before) == [
        datetime(2027, 1, day, 9, tzinfo=timezone.utc) for day in (1, 4)
    ]
