"""The contract every trigger keeps, checked on all six: immutability, versioned
pickling, value equality, stable str/repr, describe(), preview(), entry points."""

from __future__ import annotations

import pickle
from datetime import datetime, timedelta, timezone
from importlib.metadata import entry_points
from itertools import pairwise

import pytest

from nbsched.triggers.base import BaseTrigger
from nbsched.triggers.calendarinterval import CalendarIntervalTrigger
from nbsched.triggers.combining import AndTrigger, OrTrigger
from nbsched.triggers.cron import CronTrigger
from nbsched.triggers.date import DateTrigger
from nbsched.triggers.interval import IntervalTrigger

UTC = timezone.utc
NOW = datetime(2026, 11, 25, 10, 17, 3, tzinfo=UTC)


def _date():
    return DateTrigger("2026-12-01 09:00:00", timezone="Europe/Berlin")


def _interval():
    return IntervalTrigger(
        minutes=10, start_date="2026-11-25 00:00:00", end_date="2027-01-01", timezone="UTC"
    )


def _cron():
    return CronTrigger(day_of_week="mon-fri", hour="9-17", minute="*/15", timezone="Europe/Berlin")


def _calendar():
    return CalendarIntervalTrigger(
        months=1, hour=9, minute=30, start_date="2026-01-01", timezone="Europe/Berlin"
    )


def _and():
    return AndTrigger(
        [CronTrigger(hour="*/2", timezone="UTC"), IntervalTrigger(hours=3, start_date=NOW.date())],
        jitter=4,
    )


def _or():
    return OrTrigger([_date(), CronTrigger(day=1, hour=6, timezone="UTC")])


FACTORIES = {
    "date": _date,
    "interval": _interval,
    "cron": _cron,
    "calendarinterval": _calendar,
    "and": _and,
    "or": _or,
}
OTHER = {
    "date": lambda: DateTrigger("2026-12-01 10:00:00", timezone="Europe/Berlin"),
    "interval": lambda: IntervalTrigger(minutes=11, start_date=NOW, timezone="UTC"),
    "cron": lambda: CronTrigger(hour=9, timezone="Europe/Berlin"),
    "calendarinterval": lambda: CalendarIntervalTrigger(months=2, start_date="2026-01-01"),
    "and": lambda: AndTrigger([CronTrigger(hour="*/2", timezone="UTC")]),
    "or": lambda: OrTrigger([_date()]),
}

pytestmark = pytest.mark.parametrize("alias", list(FACTORIES))


def test_is_a_trigger_and_is_registered_under_its_alias(alias):
    trigger = FACTORIES[alias]()
    assert isinstance(trigger, BaseTrigger)
    [entry] = [ep for ep in entry_points(group="nbsched.triggers") if ep.name == alias]
    assert entry.load() is type(trigger)


def test_immutable(alias):
    trigger = FACTORIES[alias]()
    before = trigger.__getstate__()
    for name in (*type(trigger)._state_fields, "new_attribute"):
        with pytest.raises(AttributeError):
            setattr(trigger, name, None)
    with pytest.raises(AttributeError):
        delattr(trigger, type(trigger)._state_fields[0])
    assert trigger.__getstate__() == before


def test_pickle_round_trip(alias):
    trigger = FACTORIES[alias]()
    restored = pickle.loads(pickle.dumps(trigger))
    assert type(restored) is type(trigger)
    assert restored == trigger
    assert hash(restored) == hash(trigger)
    assert str(restored) == str(trigger)
    assert repr(restored) == repr(trigger)
    assert restored.preview(5, NOW) == trigger.preview(5, NOW)
    with pytest.raises(AttributeError):
        restored.jitter = 5  # still immutable after restoring


def test_state_is_versioned(alias):
    trigger = FACTORIES[alias]()
    state = trigger.__getstate__()
    assert state["version"] == type(trigger)._state_version
    future = {**state, "version": type(trigger)._state_version + 1}
    blank = object.__new__(type(trigger))
    with pytest.raises(ValueError, match="version"):
        blank.__setstate__(future)


def test_equality_and_hash(alias):
    a, b = FACTORIES[alias](), FACTORIES[alias]()
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b}) == 1
    other = OTHER[alias]()
    assert a != other
    assert a != "not a trigger"


def test_str_and_repr_are_readable_and_stable(alias):
    trigger = FACTORIES[alias]()
    text, representation = str(trigger), repr(trigger)
    assert text and representation
    assert str(FACTORIES[alias]()) == text
    assert repr(FACTORIES[alias]()) == representation
    assert "object at 0x" not in text + representation


def test_describe_is_plain_english(alias):
    description = FACTORIES[alias]().describe()
    assert isinstance(description, str)
    assert description[:1].islower()
    assert description.split()[0] in {"at", "every", "once", "when"}
    assert "<" not in description


def test_preview_is_monotonic_and_matches_stepping(alias):
    trigger = FACTORIES[alias]()
    times = trigger.preview(6, NOW)
    assert times
    assert all(t >= NOW for t in times)
    assert all(a.astimezone(UTC) < b.astimezone(UTC) for a, b in pairwise(times))
    plain = trigger._without_jitter()
    # Stepping from now, over any first answers before now (a calendar-interval or date
    # trigger answers a past start first, as in APScheduler).
    previous, now, stepped = None, NOW, []
    while len(stepped) < len(times):
        fire_time = plain.get_next_fire_time(previous, now)
        if fire_time is None:
            break
        if fire_time >= NOW:
            stepped.append(fire_time)
        previous = now = fire_time
    assert stepped == times
    assert trigger.preview(0, NOW) == []
    with pytest.raises(ValueError, match="n: -1"):
        trigger.preview(-1, NOW)


def test_preview_without_now_uses_the_current_time(alias):
    trigger = FACTORIES[alias]()
    times = trigger.preview(2)
    assert all(t.tzinfo is not None for t in times)


def test_fire_times_through_agrees_with_stepping(alias):
    trigger = FACTORIES[alias]()
    times = trigger.preview(4, NOW)
    if len(times) < 2:
        return
    latest, total = trigger.fire_times_through(times[0], times[-1] + timedelta(microseconds=1), 2)
    assert latest == times[-2:]
    assert total == len(times)
