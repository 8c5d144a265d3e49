"""Reading %schedule lines: durations, the four schedule forms, options, the call (no kernel)."""

from __future__ import annotations

import threading
from datetime import datetime, time, timedelta, timezone

import pytest

from nbsched.notebook.spec import (
    SpecError,
    WhenSpec,
    build_trigger,
    check_storable,
    evaluate_call,
    parse_duration,
    parse_line,
    tokenize,
)
from nbsched.triggers.cron import CronTrigger
from nbsched.triggers.date import DateTrigger
from nbsched.triggers.interval import IntervalTrigger

UTC = timezone.utc


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("10m", 600), ("30s", 30), ("1h30m", 5400), ("1.5 hours", 5400), ("2d", 172800),
     ("1w", 604800), ("500ms", 0.5), ("10 minutes", 600), ("1h 15m", 4500)],
)
def test_durations(text, seconds):
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("text", "message"),
    [("10x", "unknown unit 'x'"), ("10", "missing a unit"), ("0s", "longer than zero"),
     ("soon", "not a duration")],
)
def test_bad_durations(text, message):
    with pytest.raises(SpecError, match=message):
        parse_duration(text)


def test_tokenize_keeps_positions_and_strips_quotes():
    tokens = tokenize('cron "*/5 9-17 * * mon-fri" f(1)')
    assert [t.text for t in tokens] == ["cron", "*/5 9-17 * * mon-fri", "f(1)"]
    assert tokens[1].quoted and tokens[2].start == 28
    with pytest.raises(SpecError, match="unclosed quote"):
        tokenize('cron "* * * * *')


def test_parse_line_forms():
    parsed = parse_line("every 10m refresh(df, limit=5)")
    assert parsed.when == WhenSpec("every", "every 10m", timedelta(minutes=10))
    assert parsed.call == "refresh(df, limit=5)"
    parsed = parse_line('--name n cron "*/5 9-17 * * mon-fri" f("a b", x=\'c d\')')
    assert parsed.when.value == "*/5 9-17 * * mon-fri"
    assert parsed.call == "f(\"a b\", x='c d')"  # the call reaches Python untouched
    assert parsed.options == ["--name", "n"]
    parsed = parse_line("cron 0 9 * * mon f()")
    assert parsed.when.value == "0 9 * * mon" and parsed.call == "f()"
    parsed = parse_line("cron @daily f()")
    assert parsed.when.value == "@daily"
    parsed = parse_line("at 2026-12-01T09:00 f()")
    assert parsed.when.value == datetime(2026, 12, 1, 9, 0)
    parsed = parse_line("at 2026-12-01 09:00 f()")
    assert parsed.when.value == datetime(2026, 12, 1, 9, 0)
    assert parse_line("at 09:30 f()").when.value == time(9, 30)
    assert parse_line("in 30s f()").when.value == timedelta(seconds=30)
    assert parse_line("every hour f()").when.value == timedelta(hours=1)
    assert parse_line("every 10 minutes f()").when.value == timedelta(minutes=10)


def test_options_before_between_and_after():
    parsed = parse_line("--executor process every 1h --name a crunch(x) --max-instances 2")
    assert parsed.options == ["--executor", "process", "--name", "a", "--max-instances", "2"]
    assert parsed.call == "crunch(x)"
    # a call containing ' -' stays a call when it parses as one
    assert parse_line("every 1h f(a - b, -1)").call == "f(a - b, -1)"


def test_subcommands_and_list_default():
    assert parse_line("").subcommand == "list"
    assert parse_line("  --limit 5").subcommand == "list"
    parsed = parse_line("history job1 --limit 5")
    assert (parsed.subcommand, parsed.targets, parsed.options) == (
        "history", ["job1"], ["--limit", "5"]
    )
    assert parse_line("remove a b").targets == ["a", "b"]


@pytest.mark.parametrize(
    ("line", "message"),
    [("sometimes f()", "unknown schedule"), ("every 10m", "missing the call"),
     ("every", "needs a value"), ("every f()", "expected a duration"),
     ("cron 1 2 f()", "five fields"), ("at noon f()", "not a date-time"),
     ("--name", "--name needs a value")],
)
def test_bad_lines(line, message):
    with pytest.raises(SpecError, match=message):
        parse_line(line)


def test_cell_lines():
    parsed = parse_line("every 1h --name report", cell=True)
    assert parsed.when.kind == "every" and parsed.call == ""
    with pytest.raises(SpecError, match="unexpected"):
        parse_line("every 1h f()", cell=True)
    with pytest.raises(SpecError, match="needs a schedule"):
        parse_line("--name x", cell=True)


def test_build_triggers():
    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    every = build_trigger(parse_line("every 10m f()").when, UTC, jitter=2)
    assert isinstance(every, IntervalTrigger) and every.interval == timedelta(minutes=10)
    assert every.jitter == 2
    cron = build_trigger(parse_line('cron "*/5 9-17 * * mon-fri" f()').when, UTC)
    assert isinstance(cron, CronTrigger)
    assert cron.get_next_fire_time(None, now) == datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    bounded = build_trigger(parse_line('cron "0 9 * * *" f()').when, UTC,
                            start=datetime(2026, 7, 1, tzinfo=UTC))
    assert bounded.get_next_fire_time(None, now) == datetime(2026, 7, 1, 9, 0, tzinfo=UTC)
    at = build_trigger(parse_line("at 2026-12-01T09:00 f()").when, UTC, now=now)
    assert isinstance(at, DateTrigger) and at.run_date == datetime(2026, 12, 1, 9, tzinfo=UTC)
    at_time = build_trigger(parse_line("at 09:30 f()").when, UTC, now=now)
    assert at_time.run_date == datetime(2026, 6, 2, 9, 30, tzinfo=UTC)  # 09:30 has passed today
    inn = build_trigger(parse_line("in 30s f()").when, UTC, now=now)
    assert inn.run_date == now + timedelta(seconds=30)
    with pytest.raises(SpecError, match="has passed"):
        build_trigger(parse_line("at 2020-01-01T00:00 f()").when, UTC, now=now)
    with pytest.raises(SpecError, match="cron"):
        build_trigger(parse_line('cron "61 * * * *" f()').when, UTC)


def _add(x, limit=1):
    return x * limit


def test_evaluate_call_captures_values_once():
    ns = {"f": _add, "df": [1, 2], "opts": {"limit": 3}, "xs": (4,)}
    call = evaluate_call("f(df, limit=5)", ns)
    assert call.func is _add and call.args == ([1, 2],) and call.kwargs == {"limit": 5}
    assert call.text == "f(df, limit=5)"
    assert evaluate_call("f(*xs, **opts)", ns).args == (4,)
    assert evaluate_call("f(*xs, **opts)", ns).kwargs == {"limit": 3}
    assert evaluate_call("f", ns).args == ()
    with pytest.raises(SpecError, match="unknown function 'g'"):
        evaluate_call("g(1)", ns)
    with pytest.raises(SpecError, match="unknown name 'nope'"):
        evaluate_call("f(nope)", ns)
    with pytest.raises(SpecError, match="not a function"):
        evaluate_call("df(1)", ns)
    with pytest.raises(SpecError, match="not a function call"):
        evaluate_call("1 + 2", ns)
    with pytest.raises(SpecError, match="ZeroDivisionError"):
        evaluate_call("f(1 / 0)", ns)


def test_check_storable_names_the_argument():
    ns = {"f": _add, "lock": threading.Lock()}
    check_storable(evaluate_call("f(1, limit=2)", ns))
    with pytest.raises(SpecError, match=r"argument limit= .*cannot be stored"):
        check_storable(evaluate_call("f(1, limit=lock)", ns))
