"""The BaseScheduler API on a BackgroundScheduler: configuration, life cycle, executors and stores,
listeners, adding/finding/changing/removing jobs, print_jobs, export/import, and the errors."""

from __future__ import annotations

import io
import json
import math
import threading
from datetime import datetime, timedelta, timezone

import pytest

UTC = timezone.utc
FAR = datetime(2030, 1, 1, tzinfo=UTC)


def noop(*args, **kwargs):
    return None


# --- configure -------------------------------------------------------------------------------


def test_keyword_configuration(make_scheduler, api):
    sched = make_scheduler(
        timezone="Europe/Berlin",
        job_defaults={"coalesce": False, "max_instances": 3, "misfire_grace_time": 30},
    )
    assert str(sched.timezone) == "Europe/Berlin"
    sched.start(paused=True)
    job = sched.add_job(noop, "date", run_date=FAR)
    assert (job.coalesce, job.max_instances, job.misfire_grace_time) == (False, 3, 30)
    # Options given to add_job win over the defaults.
    job = sched.add_job(noop, "date", run_date=FAR, coalesce=True, max_instances=1)
    assert (job.coalesce, job.max_instances, job.misfire_grace_time) == (True, 1, 30)


def test_flat_prefixed_keys_with_string_values(make_scheduler):
    sched = make_scheduler(
        "background",
        {
            "apscheduler.timezone": "UTC",
            "apscheduler.job_defaults.coalesce": "false",
            "apscheduler.job_defaults.max_instances": "4",
            "apscheduler.job_defaults.misfire_grace_time": "15",
            "unrelated.key": "ignored",
        },
    )
    assert str(sched.timezone) == "UTC"
    sched.start(paused=True)
    job = sched.add_job(noop, "date", run_date=FAR)
    assert (job.coalesce, job.max_instances, job.misfire_grace_time) == (False, 4, 15)


def test_configure_with_custom_prefix_and_keyword_override(make_scheduler):
    sched = make_scheduler()
    sched.configure(
        {"my.timezone": "Asia/Tokyo", "my.job_defaults.max_instances": "2"},
        prefix="my.",
        job_defaults={"max_instances": 5},
    )
    assert str(sched.timezone) == "Asia/Tokyo"
    sched.start(paused=True)
    assert sched.add_job(noop, "date", run_date=FAR).max_instances == 5


def test_configure_executors_and_jobstores_from_dicts(make_scheduler, api):
    sched = make_scheduler(
        executors={
            "default": {"type": "threadpool", "max_workers": 2},
            "debug": {"class": api.ref("DebugExecutor")},
            "direct": api.DebugExecutor(),
        },
        jobstores={"default": {"type": "memory"}, "other": {"class": api.ref("MemoryJobStore")}},
    )
    sched.start(paused=True)
    assert isinstance(sched._lookup_executor("default"), api.ThreadPoolExecutor)
    assert isinstance(sched._lookup_executor("debug"), api.DebugExecutor)
    assert isinstance(sched._lookup_executor("direct"), api.DebugExecutor)
    assert isinstance(sched._lookup_jobstore("other"), api.MemoryJobStore)
    sched.add_job(noop, "date", run_date=FAR, id="o", jobstore="other")
    assert [j.id for j in sched.get_jobs(jobstore="other")] == ["o"]
    assert sched.get_jobs(jobstore="default") == []


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"executors": {"default": 42}}, TypeError),
        ({"jobstores": {"default": "memory"}}, TypeError),
        ({"executors": {"default": {"max_workers": 2}}}, ValueError),
        ({"jobstores": {"default": {}}}, ValueError),
        ({"executors": {"default": {"type": "no-such-executor"}}}, LookupError),
        ({"jobstores": {"default": {"type": "no-such-store"}}}, LookupError),
        ({"job_defaults": {"max_instances": "many"}}, ValueError),
        ({"timezone": 42}, TypeError),
    ],
)
def test_bad_configuration(make_scheduler, options, error):
    with pytest.raises(error):
        make_scheduler(**options)


def test_configure_while_running_is_refused(paused, api):
    with pytest.raises(api.SchedulerAlreadyRunningError):
        paused.configure(timezone="UTC")


# --- life cycle --------------------------------------------------------------------------------


def test_states(scheduler, api):
    assert scheduler.state == api.STATE_STOPPED
    assert not scheduler.running
    with pytest.raises(api.SchedulerNotRunningError):
        scheduler.pause()
    with pytest.raises(api.SchedulerNotRunningError):
        scheduler.resume()
    with pytest.raises(api.SchedulerNotRunningError):
        scheduler.shutdown()
    scheduler.start()
    assert scheduler.state == api.STATE_RUNNING
    assert scheduler.running
    with pytest.raises(api.SchedulerAlreadyRunningError):
        scheduler.start()
    scheduler.pause()
    assert scheduler.state == api.STATE_PAUSED
    assert scheduler.running
    scheduler.pause()  # pausing twice is harmless
    scheduler.resume()
    assert scheduler.state == api.STATE_RUNNING
    scheduler.shutdown()
    assert scheduler.state == api.STATE_STOPPED
    assert not scheduler.running
    with pytest.raises(api.SchedulerNotRunningError):
        scheduler.shutdown()


def test_start_paused_runs_nothing_until_resumed(scheduler, recorder, api):
    ran = threading.Event()
    scheduler.add_job(ran.set, id="now")
    scheduler.start(paused=True)
    assert scheduler.state == api.STATE_PAUSED
    assert scheduler.get_job("now") is not None
    assert not ran.wait(0.3)
    scheduler.resume()
    assert ran.wait(10)


@pytest.mark.nbsched_only  # APScheduler's thread pool cannot be started again
def test_restart_after_shutdown(scheduler, recorder, api):
    scheduler.start()
    scheduler.shutdown()
    ran = threading.Event()
    scheduler.add_job(ran.set)
    scheduler.start()
    assert ran.wait(10)


def test_shutdown_waits_for_running_jobs(running, recorder, api):
    started, release, finished = threading.Event(), threading.Event(), threading.Event()

    def slow():
        started.set()
        release.wait(10)
        finished.set()

    running.add_job(slow, id="slow")
    assert started.wait(10)
    recorder.wait(api.events.EVENT_JOB_REMOVED, "slow")  # the scheduler is done with it
    returned = threading.Event()
    closer = threading.Thread(target=lambda: (running.shutdown(wait=True), returned.set()))
    closer.start()
    assert not returned.wait(0.3), "shutdown(wait=True) returned while a job was running"
    release.set()
    assert returned.wait(10)
    assert finished.is_set()
    closer.join(10)


def test_shutdown_without_waiting_returns_at_once(running, recorder, api):
    started, release = threading.Event(), threading.Event()

    def slow():
        started.set()
        release.wait(10)

    running.add_job(slow, id="slow")
    assert started.wait(10)
    recorder.wait(api.events.EVENT_JOB_REMOVED, "slow")  # the scheduler is done with it
    try:
        running.shutdown(wait=False)
        assert not running.running
    finally:
        release.set()


def test_scheduler_refuses_to_be_pickled(scheduler):
    import pickle

    with pytest.raises(TypeError):
        pickle.dumps(scheduler)


# --- executors and job stores ------------------------------------------------------------------


def test_add_and_remove_executor(paused, recorder, api):
    ev = api.events
    executor = api.DebugExecutor()
    paused.add_executor(executor, "debug")
    assert paused._lookup_executor("debug") is executor
    paused.add_executor("debug", "by-plugin")
    assert isinstance(paused._lookup_executor("by-plugin"), api.DebugExecutor)
    with pytest.raises(ValueError):
        paused.add_executor(api.DebugExecutor(), "debug")
    with pytest.raises(TypeError):
        paused.add_executor(42, "number")
    with pytest.raises(LookupError):
        paused.add_executor("no-such-executor", "x")
    paused.remove_executor("debug")
    with pytest.raises(KeyError):
        paused._lookup_executor("debug")
    with pytest.raises(KeyError):
        paused.remove_executor("debug")
    added = recorder.matching(ev.EVENT_EXECUTOR_ADDED)
    assert [e.alias for e in added][-2:] == ["debug", "by-plugin"]
    assert [e.alias for e in recorder.matching(ev.EVENT_EXECUTOR_REMOVED)] == ["debug"]


def test_add_and_remove_jobstore(paused, recorder, api):
    ev = api.events
    store = api.MemoryJobStore()
    paused.add_jobstore(store, "extra")
    assert paused._lookup_jobstore("extra") is store
    paused.add_jobstore("memory", "by-plugin")
    with pytest.raises(ValueError):
        paused.add_jobstore(api.MemoryJobStore(), "extra")
    with pytest.raises(TypeError):
        paused.add_jobstore(42, "number")
    paused.add_job(noop, "date", run_date=FAR, id="in-extra", jobstore="extra")
    assert paused.get_job("in-extra", jobstore="extra") is not None
    assert paused.get_job("in-extra", jobstore="default") is None
    paused.remove_jobstore("extra")
    assert paused.get_job("in-extra") is None
    with pytest.raises(KeyError):
        paused.remove_jobstore("extra")
    assert [e.alias for e in recorder.matching(ev.EVENT_JOBSTORE_ADDED)][-2:] == [
        "extra",
        "by-plugin",
    ]
    assert [e.alias for e in recorder.matching(ev.EVENT_JOBSTORE_REMOVED)] == ["extra"]


def test_unknown_jobstore_alias_on_a_started_scheduler(paused):
    with pytest.raises(KeyError):
        paused.add_job(noop, "date", run_date=FAR, jobstore="nope")
    assert paused.get_jobs() == []


def test_unknown_executor_alias_removes_the_job_when_due(running, recorder, error_logs, api):
    running.add_job(noop, id="lost", executor="nope")
    recorder.wait(api.events.EVENT_JOB_REMOVED, "lost")
    assert running.get_job("lost") is None
    assert any("nope" in r.getMessage() for r in error_logs())


# --- listeners ---------------------------------------------------------------------------------


def test_listener_mask_and_removal(paused, api, make_recorder):
    ev = api.events
    masked = make_recorder()
    paused.add_listener(masked, ev.EVENT_JOB_ADDED | ev.EVENT_JOB_REMOVED)
    paused.add_job(noop, "date", run_date=FAR, id="a")
    paused.modify_job("a", name="changed")
    paused.remove_job("a")
    assert [(e.code, e.job_id) for e in masked.events] == [
        (ev.EVENT_JOB_ADDED, "a"),
        (ev.EVENT_JOB_REMOVED, "a"),
    ]
    paused.remove_listener(masked)
    paused.add_job(noop, "date", run_date=FAR, id="b")
    assert len(masked.events) == 2


def test_failing_listener_is_logged_and_others_still_called(paused, recorder, caplog, api):
    def broken(event):
        raise RuntimeError("listener broke")

    paused.remove_listener(recorder)
    paused.add_listener(broken)
    paused.add_listener(recorder)
    paused.add_job(noop, "date", run_date=FAR, id="a")
    assert recorder.codes("a") == [api.events.EVENT_JOB_ADDED]
    assert any(r.exc_info and "listener broke" in str(r.exc_info[1]) for r in caplog.records)


# --- add_job -----------------------------------------------------------------------------------


def test_trigger_alias_with_trigger_arguments(paused, api):
    job = paused.add_job(noop, "interval", seconds=30, id="i")
    assert isinstance(job.trigger, api.IntervalTrigger)
    assert job.trigger.interval == timedelta(seconds=30)
    job = paused.add_job(noop, "cron", hour=5, minute=30, id="c")
    assert isinstance(job.trigger, api.CronTrigger)
    assert (job.next_run_time.hour, job.next_run_time.minute) == (5, 30)
    # The scheduler's time zone is passed to the trigger when none is given.
    assert str(job.trigger.timezone) == "UTC"


def test_trigger_instance(paused, api):
    trigger = api.IntervalTrigger(minutes=2, start_date=FAR)
    job = paused.add_job(noop, trigger, id="i")
    assert job.trigger is trigger
    assert job.next_run_time == FAR


def test_no_trigger_means_run_once_now(paused, api):
    before = datetime.now(UTC)
    job = paused.add_job(noop)
    assert isinstance(job.trigger, api.DateTrigger)
    assert before - timedelta(seconds=1) <= job.next_run_time <= datetime.now(UTC)


def test_bad_trigger_arguments(paused):
    with pytest.raises(TypeError):
        paused.add_job(noop, 42)
    with pytest.raises(LookupError):
        paused.add_job(noop, "no-such-trigger")
    with pytest.raises(TypeError):
        paused.add_job(noop, "interval", fortnights=1)
    with pytest.raises(TypeError):
        paused.add_job(42, "date", run_date=FAR)
    assert paused.get_jobs() == []


def test_textual_reference(paused):
    job = paused.add_job("math:sqrt", "date", run_date=FAR, args=(16,))
    assert job.func is math.sqrt
    with pytest.raises((LookupError, ValueError, ImportError)):
        paused.add_job("math:no_such_function", "date", run_date=FAR)


def test_args_and_kwargs_are_copied(paused):
    args, kwargs = [1, 2], {"a": 1}
    job = paused.add_job(noop, "date", run_date=FAR, args=args, kwargs=kwargs)
    args.append(3)
    kwargs["b"] = 2
    assert job.args == (1, 2)
    assert job.kwargs == {"a": 1}


def test_conflicting_id_and_replace_existing(paused, api):
    paused.add_job(noop, "date", run_date=FAR, id="dup", name="first")
    with pytest.raises(api.ConflictingIdError):
        paused.add_job(noop, "date", run_date=FAR, id="dup", name="second")
    assert paused.get_job("dup").name == "first"
    paused.add_job(noop, "interval", hours=1, id="dup", name="third", replace_existing=True)
    assert [(j.id, j.name) for j in paused.get_jobs()] == [("dup", "third")]
    assert isinstance(paused.get_job("dup").trigger, api.IntervalTrigger)


def test_pending_job_replacement_at_start(scheduler):
    scheduler.add_job(noop, "date", run_date=FAR, id="dup", name="first")
    scheduler.add_job(noop, "date", run_date=FAR, id="dup", name="second", replace_existing=True)
    scheduler.start(paused=True)
    assert [(j.id, j.name) for j in scheduler.get_jobs()] == [("dup", "second")]


def test_explicit_next_run_time(paused):
    when = datetime(2029, 5, 1, 12, tzinfo=UTC)
    job = paused.add_job(noop, "interval", hours=1, next_run_time=when, id="a")
    assert job.next_run_time == when
    naive = paused.add_job(noop, "interval", hours=1, next_run_time=datetime(2029, 5, 1), id="b")
    assert naive.next_run_time == datetime(2029, 5, 1, tzinfo=UTC)  # scheduler's zone
    as_text = paused.add_job(noop, "interval", hours=1, next_run_time="2029-05-01 10:00:00", id="c")
    assert as_text.next_run_time == datetime(2029, 5, 1, 10, tzinfo=UTC)
    held = paused.add_job(noop, "interval", hours=1, next_run_time=None, id="d")
    assert held.next_run_time is None


def test_scheduled_job_decorator(paused, api):
    @paused.scheduled_job("interval", minutes=10, id="deco", name="decorated")
    def task():
        return "result"

    assert task() == "result"  # the function itself is returned
    job = paused.get_job("deco")
    assert job.func is task
    assert job.name == "decorated"

    # The decorator always replaces an existing job with the same id.
    @paused.scheduled_job("interval", minutes=20, id="deco")
    def task2():
        return None

    assert [j.func for j in paused.get_jobs()] == [task2]


# --- finding, changing and removing jobs -------------------------------------------------------


def test_get_jobs_orders_by_next_run_time_with_paused_last(paused):
    paused.add_job(noop, "date", run_date=FAR + timedelta(hours=2), id="late")
    paused.add_job(noop, "interval", hours=1, next_run_time=None, id="held")
    paused.add_job(noop, "date", run_date=FAR, id="early")
    paused.add_job(noop, "date", run_date=FAR, id="early-too", jobstore="default")
    assert [j.id for j in paused.get_jobs()] == ["early", "early-too", "late", "held"]


def test_get_jobs_and_get_job_per_store(paused):
    paused.add_jobstore("memory", "b")
    paused.add_job(noop, "date", run_date=FAR, id="a1")
    paused.add_job(noop, "date", run_date=FAR, id="b1", jobstore="b")
    assert [j.id for j in paused.get_jobs(jobstore="b")] == ["b1"]
    assert {j.id for j in paused.get_jobs()} == {"a1", "b1"}
    assert paused.get_job("b1").id == "b1"
    assert paused.get_job("b1", jobstore="default") is None
    assert paused.get_job("missing") is None


def test_pending_jobs_api_before_start(scheduler, api):
    scheduler.add_job(noop, "date", run_date=FAR, id="a")
    scheduler.add_job(noop, "date", run_date=FAR, id="b", jobstore="other")
    assert [j.id for j in scheduler.get_jobs()] == ["a", "b"]
    assert [j.id for j in scheduler.get_jobs(jobstore="other")] == ["b"]
    assert scheduler.get_job("a").pending
    scheduler.modify_job("a", name="renamed")
    assert scheduler.get_job("a").name == "renamed"
    scheduler.remove_job("b")
    with pytest.raises(api.JobLookupError):
        scheduler.remove_job("b")
    scheduler.start(paused=True)
    assert [(j.id, j.name, j.pending) for j in scheduler.get_jobs()] == [("a", "renamed", False)]


def test_modify_job(paused, recorder, api):
    paused.add_job(noop, "date", run_date=FAR, id="a")
    job = paused.modify_job("a", name="new", next_run_time=FAR + timedelta(days=1))
    assert job.name == "new"
    stored = paused.get_job("a")
    assert stored.next_run_time == FAR + timedelta(days=1)
    assert recorder.matching(api.events.EVENT_JOB_MODIFIED, "a")[0].jobstore == "default"
    with pytest.raises(api.JobLookupError):
        paused.modify_job("missing", name="x")
    with pytest.raises(api.JobLookupError):
        paused.modify_job("a", jobstore="no-such-store", name="x")


def test_reschedule_job(paused, api):
    paused.add_job(noop, "date", run_date=FAR, id="a")
    job = paused.reschedule_job("a", trigger="cron", hour=3, minute=0)
    assert isinstance(job.trigger, api.CronTrigger)
    stored = paused.get_job("a")
    assert (stored.next_run_time.hour, stored.next_run_time.minute) == (3, 0)
    assert stored.next_run_time > datetime.now(UTC)
    trigger = api.DateTrigger(run_date=FAR + timedelta(days=7))
    paused.reschedule_job("a", trigger=trigger)
    assert paused.get_job("a").next_run_time == FAR + timedelta(days=7)
    with pytest.raises(api.JobLookupError):
        paused.reschedule_job("missing", trigger="interval", seconds=5)


def test_pause_and_resume_job(paused, api):
    paused.add_job(noop, "interval", minutes=1, id="a")
    assert paused.pause_job("a").id == "a"
    assert paused.get_job("a").next_run_time is None
    assert paused.get_jobs()[-1].id == "a"
    job = paused.resume_job("a")
    assert job.id == "a"
    assert paused.get_job("a").next_run_time > datetime.now(UTC)
    with pytest.raises(api.JobLookupError):
        paused.pause_job("missing")
    with pytest.raises(api.JobLookupError):
        paused.resume_job("missing")


def test_remove_job(paused, recorder, api):
    paused.add_jobstore("memory", "b")
    paused.add_job(noop, "date", run_date=FAR, id="a", jobstore="b")
    with pytest.raises(api.JobLookupError):
        paused.remove_job("a", jobstore="default")
    paused.remove_job("a")
    assert paused.get_job("a") is None
    removed = recorder.matching(api.events.EVENT_JOB_REMOVED, "a")
    assert [e.jobstore for e in removed] == ["b"]
    with pytest.raises(api.JobLookupError):
        paused.remove_job("a")


def test_remove_all_jobs(paused, recorder, api):
    paused.add_jobstore("memory", "b")
    for i in range(3):
        paused.add_job(noop, "date", run_date=FAR, id=f"a{i}")
        paused.add_job(noop, "date", run_date=FAR, id=f"b{i}", jobstore="b")
    paused.remove_all_jobs(jobstore="b")
    assert {j.id for j in paused.get_jobs()} == {"a0", "a1", "a2"}
    paused.remove_all_jobs()
    assert paused.get_jobs() == []
    events = recorder.matching(api.events.EVENT_ALL_JOBS_REMOVED)
    assert [e.alias for e in events] == ["b", None]


def test_remove_all_pending_jobs(scheduler):
    scheduler.add_job(noop, "date", run_date=FAR, id="a")
    scheduler.add_job(noop, "date", run_date=FAR, id="b", jobstore="other")
    scheduler.remove_all_jobs(jobstore="other")
    assert [j.id for j in scheduler.get_jobs()] == ["a"]
    scheduler.remove_all_jobs()
    assert scheduler.get_jobs() == []


def test_wakeup_picks_up_a_job_moved_to_now(running, recorder, api):
    ran = threading.Event()
    running.add_job(ran.set, "interval", hours=1, id="a")
    running.modify_job("a", next_run_time=datetime.now(UTC))
    assert ran.wait(10)
    running.wakeup()  # harmless at any time
    recorder.wait(api.events.EVENT_JOB_EXECUTED, "a")


def test_date_job_moved_to_now_runs_once_and_is_removed(running, recorder, api):
    """APScheduler: a date trigger fires only when it has no previous fire time, so running
    the job early (next_run_time moved to now) uses up its single run."""
    running.add_job(noop, "date", run_date=FAR, id="a")
    running.modify_job("a", next_run_time=datetime.now(UTC))
    recorder.wait(api.events.EVENT_JOB_EXECUTED, "a")
    recorder.wait(api.events.EVENT_JOB_REMOVED, "a", timeout=3)  # same round as the run
    assert running.get_job("a") is None


# --- print_jobs --------------------------------------------------------------------------------


def test_print_jobs_to_a_file(scheduler):
    out = io.StringIO()
    scheduler.print_jobs(out=out)
    assert out.getvalue() == "Pending jobs:\n    No pending jobs\n"
    job = scheduler.add_job(noop, "date", run_date=FAR, id="a", name="alpha")
    out = io.StringIO()
    scheduler.print_jobs(out=out)
    assert out.getvalue() == f"Pending jobs:\n    {job}\n"
    scheduler.start(paused=True)
    scheduler.add_jobstore("memory", "b")
    out = io.StringIO()
    scheduler.print_jobs(out=out)
    alpha = scheduler.get_job("a")
    assert out.getvalue() == (
        f"Jobstore b:\n    No scheduled jobs\nJobstore default:\n    {alpha}\n"
    )
    out = io.StringIO()
    scheduler.print_jobs(jobstore="default", out=out)
    assert out.getvalue() == f"Jobstore default:\n    {alpha}\n"
    assert "alpha (trigger: date[2030-01-01 00:00:00 UTC], next run at: 2030-01-01" in str(alpha)


# --- export / import ---------------------------------------------------------------------------


def test_export_needs_a_started_scheduler(scheduler):
    with pytest.raises(RuntimeError):
        scheduler.export_jobs(io.StringIO())


def test_export_and_import_round_trip(paused, make_scheduler, tmp_path, api):
    paused.add_job("math:hypot", "interval", minutes=5, args=[3, 4], id="hyp", name="Hyp",
                   max_instances=2, coalesce=False)
    paused.add_job("math:sqrt", "cron", hour=6, args=[9], id="sq")
    paused.add_job("math:floor", "date", run_date=FAR, args=[1.5], id="fl", next_run_time=None)
    buffer = io.StringIO()
    paused.export_jobs(buffer)
    document = json.loads(buffer.getvalue())
    assert document["version"] == 1
    assert sorted(j["id"] for j in document["jobs"]) == ["fl", "hyp", "sq"]
    path = tmp_path / "jobs.json"
    paused.export_jobs(str(path))
    assert json.loads(path.read_text())["jobs"] == document["jobs"]

    target = make_scheduler()
    target.start(paused=True)
    target.add_jobstore("memory", "imported")
    target.import_jobs(io.StringIO(buffer.getvalue()), jobstore="imported")
    originals = {j.id: j for j in paused.get_jobs()}
    copies = {j.id: j for j in target.get_jobs(jobstore="imported")}
    assert copies.keys() == originals.keys()
    for job_id, original in originals.items():
        copy = copies[job_id]
        assert copy.func is original.func
        assert tuple(copy.args) == tuple(original.args)
        assert (copy.name, copy.max_instances, copy.coalesce) == (
            original.name, original.max_instances, original.coalesce,
        )
        assert copy.next_run_time == original.next_run_time
        assert str(copy.trigger) == str(original.trigger)
    # Jobs can be modified after import (they know their scheduler and store).
    target.modify_job("hyp", name="changed")
    assert target.get_job("hyp", jobstore="imported").name == "changed"

    again = make_scheduler()
    again.start(paused=True)
    again.import_jobs(str(path))
    assert {j.id for j in again.get_jobs()} == {"fl", "hyp", "sq"}


def test_import_rejects_unknown_version(paused):
    with pytest.raises(ValueError):
        paused.import_jobs(io.StringIO(json.dumps({"version": 99, "jobs": []})))


def test_export_from_one_store(paused):
    paused.add_jobstore("memory", "b")
    paused.add_job("math:sqrt", "date", run_date=FAR, args=[4], id="a")
    paused.add_job("math:sqrt", "date", run_date=FAR, args=[4], id="b", jobstore="b")
    buffer = io.StringIO()
    paused.export_jobs(buffer, jobstore="b")
    assert [j["id"] for j in json.loads(buffer.getvalue())["jobs"]] == ["b"]
