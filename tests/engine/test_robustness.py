"""The scheduler keeps going when parts fail, and changes made while jobs run take effect."""

from __future__ import annotations

import logging
import threading
import warnings
from datetime import datetime, timedelta, timezone

import pytest

UTC = timezone.utc
FAR = datetime(2030, 1, 1, tzinfo=UTC)


def noop():
    return None


def test_failing_store_is_retried(make_scheduler, recorder, api, caplog):
    caplog.set_level(logging.WARNING)

    class FlakyStore(api.MemoryJobStore):
        failures = 2

        def get_due_jobs(self, now, *args, **kwargs):
            if FlakyStore.failures:
                FlakyStore.failures -= 1
                raise OSError("store unavailable")
            return super().get_due_jobs(now, *args, **kwargs)

    sched = make_scheduler(jobstores={"default": FlakyStore()}, jobstore_retry_interval=0.1)
    sched.add_listener(recorder)
    sched.add_job(noop, id="a", misfire_grace_time=None)
    sched.start()
    recorder.wait(api.events.EVENT_JOB_EXECUTED, "a")
    assert FlakyStore.failures == 0
    assert any("store unavailable" in r.getMessage() for r in caplog.records
               if r.levelno == logging.WARNING)


def test_failing_submission_is_logged_and_the_job_rescheduled(make_scheduler, recorder, api,
                                                              caplog):
    class BrokenExecutor(api.DebugExecutor):
        def _do_submit_job(self, job, run_times):
            raise RuntimeError("cannot submit")

    sched = make_scheduler(executors={"default": api.ThreadPoolExecutor(2),
                                      "broken": BrokenExecutor()})
    sched.add_listener(recorder)
    sched.start()
    sched.add_job(noop, "interval", hours=1, next_run_time=datetime.now(UTC), id="b",
                  executor="broken")
    sched.add_job(noop, id="fine")
    recorder.wait(api.events.EVENT_JOB_EXECUTED, "fine")
    job = sched.get_job("b")
    assert job is not None
    assert job.next_run_time > datetime.now(UTC) + timedelta(minutes=30)
    assert not recorder.matching(api.events.EVENT_JOB_SUBMITTED, "b")
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("cannot submit" in str(r.exc_info[1]) for r in errors if r.exc_info)


def test_job_failure_does_not_stop_the_schedule(running, recorder, api):
    calls = []

    def sometimes():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("first run fails")

    running.add_job(sometimes, "interval", hours=1, next_run_time=datetime.now(UTC), id="s")
    recorder.wait(api.events.EVENT_JOB_ERROR, "s")
    running.modify_job("s", next_run_time=datetime.now(UTC))
    recorder.wait(api.events.EVENT_JOB_EXECUTED, "s")
    assert len(calls) == 2


def test_paused_job_does_not_run(running, recorder, api):
    ev = api.events
    running.add_job(noop, "interval", seconds=0.05, next_run_time=datetime.now(UTC), id="p")
    recorder.wait(ev.EVENT_JOB_EXECUTED, "p")
    running.pause_job("p")
    # A sentinel added after the pause is processed in a later round than any run of "p"
    # already under way; a second one 0.3 s later spans several of p's 0.05 s intervals.
    running.add_job(noop, id="sentinel-1")
    recorder.wait(ev.EVENT_JOB_SUBMITTED, "sentinel-1")
    count = len(recorder.matching(ev.EVENT_JOB_SUBMITTED, "p"))
    running.add_job(noop, "date", run_date=datetime.now(UTC) + timedelta(seconds=0.3),
                    id="sentinel-2")
    recorder.wait(ev.EVENT_JOB_SUBMITTED, "sentinel-2")
    assert len(recorder.matching(ev.EVENT_JOB_SUBMITTED, "p")) == count
    running.resume_job("p")
    recorder.wait(ev.EVENT_JOB_SUBMITTED, "p", count=count + 1)


def test_paused_scheduler_runs_nothing(running, recorder, api):
    ev = api.events
    running.add_job(noop, "interval", seconds=0.05, next_run_time=datetime.now(UTC), id="p")
    recorder.wait(ev.EVENT_JOB_EXECUTED, "p")
    running.pause()
    # Nothing signals "nothing happened": let a round under way finish, then watch a while.
    idle = threading.Event()
    idle.wait(0.1)
    count = len(recorder.matching(ev.EVENT_JOB_SUBMITTED, "p"))
    idle.wait(0.3)
    assert len(recorder.matching(ev.EVENT_JOB_SUBMITTED, "p")) == count
    running.resume()
    recorder.wait(ev.EVENT_JOB_SUBMITTED, "p", count=count + 1)


def test_removing_a_running_job_lets_the_run_finish(running, recorder, api):
    ev = api.events
    started, release = threading.Event(), threading.Event()

    def slow():
        started.set()
        release.wait(10)
        return "finished"

    running.add_job(slow, "interval", hours=1, next_run_time=datetime.now(UTC), id="r")
    assert started.wait(10)
    running.remove_job("r")
    release.set()
    executed = recorder.wait(ev.EVENT_JOB_EXECUTED, "r")[0]
    assert executed.retval == "finished"
    assert running.get_job("r") is None


def test_resume_of_a_finished_schedule_removes_the_job(paused, recorder, api):
    start = datetime.now(UTC) - timedelta(hours=3)
    paused.add_job(noop, "interval", minutes=30, start_date=start,
                   end_date=start + timedelta(hours=1), next_run_time=None, id="over")
    assert paused.resume_job("over") is None
    assert paused.get_job("over") is None
    assert recorder.codes("over")[-1] == api.events.EVENT_JOB_REMOVED


def test_jobs_of_different_ids_have_separate_instance_limits(running, recorder, api):
    release = threading.Event()
    started = {"a": threading.Event(), "b": threading.Event()}

    def slow(tag):
        started[tag].set()
        release.wait(10)

    try:
        running.add_job(slow, args=["a"], id="a")
        running.add_job(slow, args=["b"], id="b")
        assert started["a"].wait(10) and started["b"].wait(10)
        assert not recorder.matching(api.events.EVENT_JOB_MAX_INSTANCES)
    finally:
        release.set()


def test_pending_job_paused_before_start_stays_paused(scheduler):
    job = scheduler.add_job(noop, "interval", minutes=1, id="p")
    job.pause()
    scheduler.start(paused=True)
    assert scheduler.get_job("p").next_run_time is None


def test_pending_job_rescheduled_before_start(scheduler, api):
    scheduler.add_job(noop, "date", run_date=FAR, id="p")
    scheduler.reschedule_job("p", trigger="interval", minutes=7)
    scheduler.start(paused=True)
    job = scheduler.get_job("p")
    assert isinstance(job.trigger, api.IntervalTrigger)
    assert job.trigger.interval == timedelta(minutes=7)


def test_naive_datetimes_use_the_scheduler_time_zone(make_scheduler):
    sched = make_scheduler(timezone="Europe/Berlin")
    sched.start(paused=True)
    job = sched.add_job(noop, "date", run_date=datetime(2030, 1, 1, 12))
    assert job.next_run_time.utcoffset() == timedelta(hours=1)
    assert job.next_run_time == datetime(2030, 1, 1, 11, tzinfo=UTC)
    job = sched.add_job(noop, "date", run_date="2030-07-01 12:00:00")
    assert job.next_run_time == datetime(2030, 7, 1, 10, tzinfo=UTC)
    job = sched.add_job(noop, "date", run_date=datetime(2030, 1, 1, 12), timezone="UTC")
    assert job.next_run_time == datetime(2030, 1, 1, 12, tzinfo=UTC)


def test_modify_trigger_directly_keeps_next_run_time(paused, api):
    paused.add_job(noop, "date", run_date=FAR, id="a")
    trigger = api.IntervalTrigger(hours=2)
    paused.modify_job("a", trigger=trigger)
    job = paused.get_job("a")
    assert job.trigger is trigger
    assert job.next_run_time == FAR


def test_get_jobs_pending_argument_is_deprecated(scheduler):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scheduler.get_jobs(pending=True)
    assert any(issubclass(w.category, DeprecationWarning) for w in caught)


def test_removing_an_unknown_listener_is_harmless(scheduler):
    scheduler.remove_listener(lambda event: None)


def test_import_of_an_existing_id_conflicts(paused, make_scheduler, api):
    import io

    paused.add_job("math:sqrt", "date", run_date=FAR, args=[4], id="same")
    buffer = io.StringIO()
    paused.export_jobs(buffer)
    with pytest.raises(api.ConflictingIdError):
        paused.import_jobs(io.StringIO(buffer.getvalue()))


def test_listener_runs_for_execution_events_in_the_executor(running, api):
    threads = []
    done = threading.Event()

    def listener(event):
        threads.append(threading.current_thread().name)
        done.set()

    running.add_listener(listener, api.events.EVENT_JOB_EXECUTED)
    running.add_job(noop)
    assert done.wait(10)
    assert threads and threads[0] != threading.main_thread().name
