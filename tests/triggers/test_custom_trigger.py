"""Custom triggers written the way APScheduler documents them: subclass ``BaseTrigger``,
set attributes in ``__init__``, implement only ``get_next_fire_time``. They must work
unchanged -- construction, assignment, pickling, describe/preview and the scheduler."""

from __future__ import annotations

import pickle
import threading
from datetime import datetime, timedelta, timezone

import pytest

from nbsched.schedulers.background import BackgroundScheduler
from nbsched.schedulers.blocking import BlockingScheduler
from nbsched.serialization import decode_job_state, encode_job_state
from nbsched.triggers.base import BaseTrigger
from nbsched.triggers.interval import IntervalTrigger

UTC = timezone.utc
NOW = datetime(2026, 12, 1, 9, tzinfo=UTC)


class EverySeconds(BaseTrigger):
    """The shape of the example in APScheduler's documentation."""

    def __init__(self, seconds):
        self.seconds = seconds

    def get_next_fire_time(self, previous_fire_time, now):
        return (previous_fire_time or now) + timedelta(seconds=self.seconds)


class WithState(BaseTrigger):
    """A custom trigger with its own (versioned) pickling and a jitter attribute."""

    def __init__(self, seconds, jitter=None):
        self.seconds = seconds
        self.jitter = jitter
        self.cache = object()  # not picklable state it rebuilds itself

    def get_next_fire_time(self, previous_fire_time, now):
        fire_time = (previous_fire_time or now) + timedelta(seconds=self.seconds)
        return self._apply_jitter(fire_time, self.jitter, now)

    def __getstate__(self):
        return {"version": 1, "seconds": self.seconds, "jitter": self.jitter}

    def __setstate__(self, state):
        self.seconds = state["seconds"]
        self.jitter = state["jitter"]
        self.cache = object()

    def __str__(self):
        return f"every {self.seconds} s (custom)"


class Slotted(BaseTrigger):
    __slots__ = ("seconds",)

    def __init__(self, seconds):
        self.seconds = seconds

    def get_next_fire_time(self, previous_fire_time, now):
        return (previous_fire_time or now) + timedelta(seconds=self.seconds)


class LabelledInterval(IntervalTrigger):
    """A subclass of a built-in trigger that adds an attribute of its own."""

    def __init__(self, label, **kwargs):
        super().__init__(**kwargs)
        self.label = label


def test_a_documented_custom_trigger_can_be_built_and_changed():
    trigger = EverySeconds(5)
    assert trigger.seconds == 5
    trigger.seconds = 7
    trigger.extra = "anything"
    del trigger.extra
    assert trigger.get_next_fire_time(None, NOW) == NOW + timedelta(seconds=7)


def test_custom_triggers_get_describe_and_preview():
    trigger = EverySeconds(5)
    assert trigger.describe() == "on the schedule of EverySeconds"
    assert WithState(3).describe() == "every 3 s (custom)"
    assert trigger.preview(3, NOW) == [NOW + timedelta(seconds=s) for s in (5, 10, 15)]
    assert len(trigger.preview(2)) == 2  # default now: aware, in the local zone
    jittery = WithState(10, jitter=5)
    assert jittery.preview(2, NOW) == [NOW + timedelta(seconds=10), NOW + timedelta(seconds=20)]
    assert jittery.jitter == 5  # preview worked on a copy
    latest, total = trigger.fire_times_through(NOW, NOW + timedelta(seconds=60), 2)
    assert (latest, total) == ([NOW + timedelta(seconds=55), NOW + timedelta(seconds=60)], 13)


def test_custom_triggers_pickle_through_their_state():
    restored = pickle.loads(pickle.dumps(EverySeconds(5)))
    assert type(restored) is EverySeconds and restored.seconds == 5
    custom = pickle.loads(pickle.dumps(WithState(3, jitter=2)))
    assert (custom.seconds, custom.jitter) == (3, 2) and custom.cache is not None
    assert pickle.loads(pickle.dumps(Slotted(4))).seconds == 4


def test_custom_triggers_compare_by_identity_as_in_apscheduler():
    a, b = EverySeconds(5), EverySeconds(5)
    assert a == a and a != b
    assert len({a, b}) == 2
    a.seconds = 6
    assert a in {a}  # hash does not depend on the (mutable) attributes


def test_a_subclass_of_a_builtin_keeps_its_parent_fields_and_adds_its_own():
    trigger = LabelledInterval("backup", minutes=5, start_date=NOW, timezone="UTC")
    assert trigger.get_next_fire_time(None, NOW) == NOW
    trigger.label = "nightly backup"
    with pytest.raises(AttributeError):
        trigger.interval = timedelta(minutes=1)  # would leave the derived grid stale
    restored = pickle.loads(pickle.dumps(trigger))
    assert restored.label == "nightly backup"
    assert restored == trigger
    assert restored.preview(2, NOW) == [NOW, NOW + timedelta(minutes=5)]


def test_builtin_triggers_stay_immutable():
    trigger = IntervalTrigger(minutes=5, timezone="UTC")
    with pytest.raises(AttributeError, match="immutable"):
        trigger.jitter = 5


def test_the_scheduler_accepts_and_runs_a_custom_trigger():
    blocking = BlockingScheduler(timezone="UTC")
    pending = blocking.add_job(print, EverySeconds(5))
    assert pending.trigger.seconds == 5

    ran = threading.Event()
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.start()
    try:
        job = scheduler.add_job(ran.set, EverySeconds(0.05), id="custom")
        assert job.next_run_time is not None
        assert ran.wait(5)
        job.trigger.seconds = 3600  # assignable, as in APScheduler
        assert scheduler.get_job("custom").trigger.seconds == 3600
    finally:
        scheduler.shutdown(wait=False)


def test_a_custom_trigger_survives_the_job_serializer():
    state = {
        "version": 1, "id": "j", "func": "builtins:print", "trigger": WithState(9, jitter=1),
        "executor": "default", "args": (), "kwargs": {}, "name": "print",
        "misfire_grace_time": 1, "coalesce": True, "max_instances": 1, "next_run_time": NOW,
    }  # fmt: skip
    decoded = decode_job_state(encode_job_state(state))
    assert isinstance(decoded["trigger"], WithState)
    assert (decoded["trigger"].seconds, decoded["trigger"].jitter) == (9, 1)
