"""The Job object: attributes, validation of changes, its shortcuts to the scheduler, str/repr."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import pytest

UTC = timezone.utc
FAR = datetime(2030, 1, 1, tzinfo=UTC)


def greet(name, punctuation="!"):
    return f"hello {name}{punctuation}"


def test_pending_job_before_start(scheduler, api):
    job = scheduler.add_job(greet, "date", run_date=FAR, args=["bob"], id="j1")
    assert isinstance(job, api.Job)
    assert job.pending
    assert job._jobstore_alias is None
    assert str(job) == f"greet (trigger: {job.trigger}, pending)"


def test_attributes_after_start(paused, api):
    job = paused.add_job(
        greet, "date", run_date=FAR, args=["bob"], kwargs={"punctuation": "?"}, id="j1"
    )
    assert not job.pending
    assert job.id == "j1"
    assert job.name == "greet"
    assert job.func is greet
    assert job.func_ref == f"{__name__}:greet"
    assert job.args == ("bob",)
    assert job.kwargs == {"punctuation": "?"}
    assert isinstance(job.trigger, api.DateTrigger)
    assert job.executor == "default"
    # Scheduler job defaults fill what the caller left out.
    assert job.misfire_grace_time == 1
    assert job.coalesce is True
    assert job.max_instances == 1
    assert job.next_run_time == FAR
    assert job.next_run_time.tzinfo is not None


def test_generated_id_and_explicit_name(paused):
    first = paused.add_job(greet, "date", run_date=FAR, args=["x"], name="Greeter")
    second = paused.add_job(greet, "date", run_date=FAR, args=["x"])
    assert isinstance(first.id, str) and first.id
    assert first.id != second.id
    assert first.name == "Greeter"


def test_func_ref_is_none_for_a_local_function(paused):
    def local():
        return None

    job = paused.add_job(local, "date", run_date=FAR)
    assert job.func is local
    assert job.func_ref is None


def test_textual_reference_resolves(paused):
    job = paused.add_job("math:hypot", "date", run_date=FAR, args=[3, 4])
    assert job.func is math.hypot
    assert job.func_ref == "math:hypot"
    assert job.name == "hypot"


def test_str_and_repr(paused):
    job = paused.add_job(greet, "date", run_date=FAR, args=["x"], id="j1", name="Greeter")
    assert repr(job) == "<Job (id=j1 name=Greeter)>"
    assert str(job) == f"Greeter (trigger: {job.trigger}, next run at: 2030-01-01 00:00:00 UTC)"
    job.pause()
    assert str(job) == f"Greeter (trigger: {job.trigger}, paused)"


def test_modify_changes_and_returns_the_job(paused, recorder, api):
    job = paused.add_job(greet, "date", run_date=FAR, args=["x"], id="j1")
    assert job.modify(name="renamed", max_instances=3, coalesce=False) is job
    stored = paused.get_job("j1")
    assert (stored.name, stored.max_instances, stored.coalesce) == ("renamed", 3, False)
    job.modify(args=["y"], kwargs={"punctuation": "."}, misfire_grace_time=None)
    stored = paused.get_job("j1")
    assert tuple(stored.args) == ("y",)
    assert stored.kwargs == {"punctuation": "."}
    assert stored.misfire_grace_time is None
    assert recorder.codes("j1")[-2:] == [api.events.EVENT_JOB_MODIFIED] * 2


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"max_instances": 0}, TypeError),
        ({"max_instances": "2"}, TypeError),
        ({"misfire_grace_time": -1}, TypeError),
        ({"misfire_grace_time": "soon"}, TypeError),
        ({"name": ""}, TypeError),
        ({"executor": 3}, TypeError),
        ({"trigger": "date"}, TypeError),
        ({"func": 42}, TypeError),
        ({"args": "abc"}, TypeError),
        ({"kwargs": ["a"]}, TypeError),
        ({"id": "other"}, ValueError),
        ({"args": []}, ValueError),  # greet needs a name
        ({"args": ["a"], "kwargs": {"nope": 1}}, ValueError),
        ({"colour": "red"}, AttributeError),
    ],
)
def test_modify_rejects_bad_values_and_changes_nothing(paused, changes, error):
    job = paused.add_job(greet, "date", run_date=FAR, args=["x"], id="j1", name="keep")
    with pytest.raises(error):
        job.modify(**changes)
    stored = paused.get_job("j1")
    assert stored.name == "keep"
    assert tuple(stored.args) == ("x",)
    assert stored.max_instances == 1


def test_add_job_rejects_bad_options(paused):
    with pytest.raises(TypeError):
        paused.add_job(greet, "date", run_date=FAR, args=["x"], max_instances=0)
    with pytest.raises(TypeError):
        paused.add_job(greet, "date", run_date=FAR, args=["x"], misfire_grace_time=0)
    with pytest.raises(TypeError):
        paused.add_job(greet, "date", run_date=FAR, args=["x"], id=5)
    with pytest.raises(ValueError):
        paused.add_job(greet, "date", run_date=FAR)  # missing the required argument
    assert paused.get_jobs() == []


def test_reschedule(paused, api):
    job = paused.add_job(greet, "date", run_date=FAR, args=["x"], id="j1")
    before = datetime.now(UTC)
    assert job.reschedule("interval", minutes=5) is job
    stored = paused.get_job("j1")
    assert isinstance(stored.trigger, api.IntervalTrigger)
    assert stored.trigger.interval == timedelta(minutes=5)
    assert before + timedelta(minutes=5) <= stored.next_run_time
    assert stored.next_run_time <= datetime.now(UTC) + timedelta(minutes=5)


def test_pause_and_resume(paused):
    job = paused.add_job(greet, "interval", hours=1, args=["x"], id="j1")
    assert job.pause() is job
    assert paused.get_job("j1").next_run_time is None
    assert job.resume() is job
    resumed = paused.get_job("j1").next_run_time
    assert resumed is not None
    assert resumed > datetime.now(UTC)


def test_remove(paused, recorder, api):
    job = paused.add_job(greet, "date", run_date=FAR, args=["x"], id="j1")
    job.remove()
    assert paused.get_job("j1") is None
    assert recorder.codes("j1")[-1] == api.events.EVENT_JOB_REMOVED
    with pytest.raises(api.JobLookupError):
        job.remove()


def test_getstate_round_trip(paused, api):
    job = paused.add_job(
        "math:hypot", "interval", minutes=1, args=[3, 4], id="j1", name="n", coalesce=False
    )
    state = job.__getstate__()
    assert isinstance(state, dict)
    assert state["id"] == "j1"
    assert state["func"] == "math:hypot"
    restored = api.Job.__new__(api.Job)
    restored.__setstate__(state)
    assert restored.func is math.hypot
    assert tuple(restored.args) == (3, 4)
    assert (restored.name, restored.coalesce, restored.max_instances) == ("n", False, 1)
    assert restored.next_run_time == job.next_run_time
    assert restored.trigger.interval == timedelta(minutes=1)


# --- APScheduler's private helpers and state handling -------------------------------------------


def _interval_job(api, start: datetime, minutes: int):
    from unittest.mock import Mock

    trigger = api.IntervalTrigger(minutes=minutes, start_date=start, timezone=start.tzinfo)
    return api.Job(
        Mock(timezone=start.tzinfo), id="rt", func="time:time", trigger=trigger,
        executor="default", args=(), kwargs={}, name="rt", misfire_grace_time=1,
        coalesce=False, max_instances=1, next_run_time=start,
    )


def test_get_run_times_lists_due_times_through_now(api):
    start = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    job = _interval_job(api, start, minutes=1)
    assert job._get_run_times(start - timedelta(seconds=1)) == []
    assert job._get_run_times(start) == [start]
    assert job._get_run_times(start + timedelta(minutes=2, seconds=5)) == [
        start, start + timedelta(minutes=1), start + timedelta(minutes=2)
    ]
    job.next_run_time = None  # paused
    assert job._get_run_times(start + timedelta(days=1)) == []


def test_get_run_times_compares_instants_across_a_fall_back(api):
    # 01:00 EST (fold=1) is *after* 01:45 EDT although its wall clock reads earlier.
    from zoneinfo import ZoneInfo

    tz = ZoneInfo("America/New_York")
    start = datetime(2025, 11, 2, 1, 30, tzinfo=tz)  # EDT
    job = _interval_job(api, start, minutes=30)
    assert job._get_run_times(datetime(2025, 11, 2, 1, 45, tzinfo=tz)) == [start]
    times = job._get_run_times(datetime(2025, 11, 2, 1, 15, fold=1, tzinfo=tz))
    assert [t.timestamp() - start.timestamp() for t in times] == [0, 1800]


def test_setstate_keeps_args_and_kwargs_as_given(paused, api):
    # As APScheduler: the state's containers are used as they are (a JSON import has lists).
    state = paused.add_job("math:hypot", "interval", minutes=1, args=[3, 4]).__getstate__()
    state["args"] = [3, 4]
    restored = api.Job.__new__(api.Job)
    restored.__setstate__(state)
    assert restored.args == [3, 4]
    assert restored.func(*restored.args, **restored.kwargs) == 5.0


def test_setstate_refuses_a_newer_version(api):
    restored = api.Job.__new__(api.Job)
    with pytest.raises(ValueError, match="Job has version 9999, but only version 1"):
        restored.__setstate__({"version": 9999})
