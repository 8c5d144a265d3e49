"""Bad input never crashes, never hangs (issue 11, points 9, 10 and 12).

A hypothesis fuzz suite over every trigger constructor, ``CronTrigger.from_crontab``,
``add_job`` options and the ``%schedule`` line parser. Whatever it is given, a call either
succeeds or raises ValueError/TypeError whose message names the field at fault -- never
OverflowError, never a later failure inside ``get_next_fire_time`` -- and every call (the
first fire time included) takes under 50 ms of CPU.

CPU time (``time.process_time``) is measured, not wall time, so a busy machine cannot fail
the bound; only real work can. Examples are derandomized: the same cases run every time.
"""

from __future__ import annotations

import gc
import math
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nbsched.notebook.spec import SpecError, parse_line
from nbsched.schedulers.background import BackgroundScheduler
from nbsched.triggers.calendarinterval import CalendarIntervalTrigger
from nbsched.triggers.combining import AndTrigger, OrTrigger
from nbsched.triggers.cron import CronTrigger
from nbsched.triggers.date import DateTrigger
from nbsched.triggers.interval import IntervalTrigger

UTC = timezone.utc
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
BUDGET = 0.05  # seconds of CPU per call
FUZZ = settings(
    max_examples=300, derandomize=True, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

# Numbers that break naive arithmetic: infinities, NaN, huge and tiny, negative, bools.
nasty_numbers = st.one_of(
    st.sampled_from([math.inf, -math.inf, math.nan, 10**9, 10**12, 10**20, 1e308, -1, 0,
                     -0.0, 1e-12, True, False]),
    st.integers(min_value=-10**25, max_value=10**25),
    st.floats(allow_nan=True, allow_infinity=True),
)
# Cron field values: numbers, odd digits (Arabic-Indic, full-width), junk, real syntax.
cron_text = st.one_of(
    st.sampled_from(["*", "*/5", "1-5", "last", "2nd tue", "mon-fri", "\u0662", "\uff12",
                     "1-99999999", "*/0", "*/99999999999999999999", "5-1", "", " ", "x",
                     "1,", ",", "-1",
                     "1/0", "99999999999999999999", "last fri", "jan-dec/2", "1-1000000/7"]),
    st.text(alphabet="0123456789*/-, lastmonfriLAS\u0662\uff12", max_size=12),
)
values = st.one_of(nasty_numbers, cron_text, st.none())


def _timed(call: Any, *args: Any, **kwargs: Any) -> Any:
    # The garbage collector is paused during the call: a full collection of the
    # session's heap (hypothesis allocates a lot) is not the call's work, and once in
    # some thousand calls it took over 100 ms by itself.
    collecting = gc.isenabled()
    gc.disable()
    start = time.process_time()
    try:
        return call(*args, **kwargs)
    finally:
        spent = time.process_time() - start
        if collecting:
            gc.enable()
        assert spent < BUDGET, f"{call!r}{args}{kwargs} took {spent * 1000:.0f} ms of CPU"


def _check(build: Any, fields: dict[str, Any], defaults: tuple[str, ...] = ()) -> None:
    """Build and ask for the first fire time; only ValueError/TypeError naming a field.

    ``defaults``: arguments that are at fault together when none of them is given (the
    calendar interval's units all default to 0, which is not an interval); an error
    naming them then names the field at fault.
    """
    try:
        trigger = _timed(build, **fields)
        _timed(trigger.get_next_fire_time, None, NOW)
    except (ValueError, TypeError) as exc:
        message = str(exc)
        candidates = list(fields)
        if not any(name in fields for name in defaults):
            candidates += defaults
        named = [name for name in candidates if name in message]
        assert named, f"{type(exc).__name__}({message!r}) names none of {sorted(candidates)}"


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(["weeks", "days", "hours", "minutes", "seconds", "jitter"]),
        nasty_numbers, min_size=1, max_size=3,
    )
)
def test_interval_trigger(fields: dict[str, Any]) -> None:
    _check(lambda **kw: IntervalTrigger(timezone="UTC", **kw), fields)


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(["years", "months", "weeks", "days", "hour", "minute", "second",
                         "jitter"]),
        nasty_numbers, min_size=1, max_size=3,
    )
)
def test_calendar_interval_trigger(fields: dict[str, Any]) -> None:
    _check(lambda **kw: CalendarIntervalTrigger(timezone="UTC", **kw), fields,
           defaults=("years", "months", "weeks", "days"))


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(["year", "month", "day", "week", "day_of_week", "hour", "minute",
                         "second", "jitter"]),
        values, min_size=1, max_size=4,
    )
)
def test_cron_trigger(fields: dict[str, Any]) -> None:
    _check(lambda **kw: CronTrigger(timezone="UTC", **kw), fields)


@FUZZ
@given(st.lists(cron_text, min_size=1, max_size=7).map(" ".join))
def test_from_crontab(line: str) -> None:
    try:
        trigger = _timed(CronTrigger.from_crontab, line, timezone="UTC")
        _timed(trigger.get_next_fire_time, None, NOW)
    except (ValueError, TypeError) as exc:
        assert str(exc), "an error must say what is wrong"


@FUZZ
@given(st.one_of(nasty_numbers, st.text(max_size=30)))
def test_date_trigger(run_date: Any) -> None:
    _check(lambda **kw: DateTrigger(timezone="UTC", **kw), {"run_date": run_date})


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(["misfire_grace_time", "max_instances", "coalesce", "name", "id",
                         "next_run_time"]),
        values, min_size=1, max_size=3,
    )
)
def test_add_job_options(options: dict[str, Any]) -> None:
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.start(paused=True)
    try:
        try:
            _timed(scheduler.add_job, print, "interval", minutes=5, **options)
        except (ValueError, TypeError) as exc:
            named = [name for name in options if name in str(exc)]
            assert named, f"{type(exc).__name__}({exc!s}) names none of {sorted(options)}"
    finally:
        scheduler.shutdown(wait=False)


_line_words = st.sampled_from([
    "every", "in", "at", "cron", "10m", "1h30m", "99999999999999999999", "s", "f()", "g(1)",
    "--name", "x", "--executor", "process", '"*/5 * * * *"', "'", '"', "(", ")", "1" * 30,
    "-", "--", "2026-12-01T09:00", "25:99", "--store", "memory", "=", "\\", "ms", "1e400",
])


@FUZZ
@given(st.one_of(st.lists(_line_words, max_size=8).map(" ".join), st.text(max_size=60)))
def test_magic_line_parser(line: str) -> None:
    try:
        _timed(parse_line, line)
    except SpecError as exc:
        assert str(exc)


@pytest.mark.parametrize("depth", [2, 4, 6])
def test_nested_and_triggers_give_up_fast(depth: int, caplog) -> None:
    # Members that never agree: the search must end (None, with a warning) within 100 ms
    # whatever the nesting, not multiply a per-level step bound.
    trigger: Any = IntervalTrigger(seconds=7, start_date=NOW, timezone="UTC")
    for level in range(depth):
        other = IntervalTrigger(seconds=11 + level, start_date=NOW + timedelta(seconds=3),
                                timezone="UTC")
        trigger = AndTrigger([trigger, other, CronTrigger(second=59 - level, timezone="UTC")])
    start = time.process_time()
    result = trigger.get_next_fire_time(None, NOW)
    assert time.process_time() - start < 0.1
    if result is None:
        assert any("AndTrigger" in r.getMessage() or "agree" in r.getMessage()
                   for r in caplog.records)


def test_or_trigger_of_bad_members_is_still_bounded() -> None:
    trigger = OrTrigger([IntervalTrigger(seconds=1, timezone="UTC"),
                         CronTrigger(second="*/7", timezone="UTC")])
    _timed(trigger.get_next_fire_time, None, NOW)
