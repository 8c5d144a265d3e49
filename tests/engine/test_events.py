"""Which events the scheduler publishes, with which attributes, and in which order."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

UTC = timezone.utc
FAR = datetime(2030, 1, 1, tzinfo=UTC)


def noop():
    return None


def test_start_pause_resume_shutdown_sequence(scheduler, recorder, api):
    ev = api.events
    scheduler.add_job(noop, "date", run_date=FAR, id="pending")
    scheduler.start(paused=True)
    scheduler.resume()
    scheduler.pause()
    scheduler.resume()
    scheduler.shutdown()
    sequence = [(e.code, getattr(e, "alias", None), getattr(e, "job_id", None))
                for e in recorder.events]
    assert sequence == [
        (ev.EVENT_EXECUTOR_ADDED, "default", None),
        (ev.EVENT_JOBSTORE_ADDED, "default", None),
        (ev.EVENT_JOB_ADDED, None, "pending"),
        (ev.EVENT_SCHEDULER_STARTED, None, None),
        (ev.EVENT_SCHEDULER_RESUMED, None, None),
        (ev.EVENT_SCHEDULER_PAUSED, None, None),
        (ev.EVENT_SCHEDULER_RESUMED, None, None),
        (ev.EVENT_SCHEDULER_SHUTDOWN, None, None),
    ]
    added = recorder.matching(ev.EVENT_JOB_ADDED)[0]
    assert added.jobstore == "default"


def test_job_added_modified_removed(paused, recorder, api):
    ev = api.events
    recorder.clear()
    job = paused.add_job(noop, "date", run_date=FAR, id="a")
    job.modify(name="b")
    paused.reschedule_job("a", trigger="interval", minutes=1)
    job.pause()
    job.resume()
    job.remove()
    assert [(e.code, e.job_id, e.jobstore) for e in recorder.events] == [
        (ev.EVENT_JOB_ADDED, "a", "default"),
        (ev.EVENT_JOB_MODIFIED, "a", "default"),
        (ev.EVENT_JOB_MODIFIED, "a", "default"),
        (ev.EVENT_JOB_MODIFIED, "a", "default"),
        (ev.EVENT_JOB_MODIFIED, "a", "default"),
        (ev.EVENT_JOB_REMOVED, "a", "default"),
    ]
    assert all(isinstance(e, ev.JobEvent) for e in recorder.events)


def test_jobstore_and_executor_events(paused, recorder, api):
    ev = api.events
    recorder.clear()
    paused.add_jobstore("memory", "s")
    paused.add_executor("debug", "x")
    paused.remove_jobstore("s")
    paused.remove_executor("x")
    paused.remove_all_jobs()
    assert [(e.code, e.alias) for e in recorder.events] == [
        (ev.EVENT_JOBSTORE_ADDED, "s"),
        (ev.EVENT_EXECUTOR_ADDED, "x"),
        (ev.EVENT_JOBSTORE_REMOVED, "s"),
        (ev.EVENT_EXECUTOR_REMOVED, "x"),
        (ev.EVENT_ALL_JOBS_REMOVED, None),
    ]
    assert all(isinstance(e, ev.SchedulerEvent) for e in recorder.events)


def test_run_is_submitted_then_executed(running, recorder, api):
    """The submission event comes first; the run waits for it so the order is deterministic."""
    ev = api.events
    submitted = threading.Event()
    running.add_listener(lambda e: submitted.set(), ev.EVENT_JOB_SUBMITTED)

    def job(x):
        assert submitted.wait(10)
        return x * 2

    running.add_job(job, args=[21], id="run")
    recorder.wait(ev.EVENT_JOB_REMOVED, "run")
    executed = recorder.wait(ev.EVENT_JOB_EXECUTED, "run")[0]
    codes = [c for c in recorder.codes("run") if c != ev.EVENT_JOB_REMOVED]
    assert codes == [ev.EVENT_JOB_ADDED, ev.EVENT_JOB_SUBMITTED, ev.EVENT_JOB_EXECUTED]
    submission = recorder.matching(ev.EVENT_JOB_SUBMITTED, "run")[0]
    assert isinstance(submission, ev.JobSubmissionEvent)
    assert submission.jobstore == "default"
    assert len(submission.scheduled_run_times) == 1
    assert isinstance(executed, ev.JobExecutionEvent)
    assert executed.retval == 42
    assert executed.exception is None
    assert executed.jobstore == "default"
    assert executed.scheduled_run_time == submission.scheduled_run_times[0]


def test_error_event_carries_exception_and_traceback(running, recorder, api):
    ev = api.events

    def failing_job():
        raise ValueError("boom")

    running.add_job(failing_job, id="bad")
    error = recorder.wait(ev.EVENT_JOB_ERROR, "bad")[0]
    assert isinstance(error.exception, ValueError)
    assert str(error.exception) == "boom"
    assert isinstance(error.traceback, str)
    assert "failing_job" in error.traceback
    assert error.retval is None
    assert not recorder.matching(ev.EVENT_JOB_EXECUTED, "bad")


def test_missed_event(running, recorder, api):
    ev = api.events
    calls = []
    run_date = datetime.now(UTC) - timedelta(seconds=30)
    running.add_job(calls.append, "date", run_date=run_date, args=[1], id="late",
                    misfire_grace_time=5)
    missed = recorder.wait(ev.EVENT_JOB_MISSED, "late")[0]
    assert missed.scheduled_run_time == run_date
    assert calls == []
    assert not recorder.matching(ev.EVENT_JOB_EXECUTED | ev.EVENT_JOB_ERROR, "late")


def test_max_instances_event(running, recorder, api):
    ev = api.events
    started, release = threading.Event(), threading.Event()

    def slow():
        started.set()
        release.wait(10)

    running.add_job(slow, "interval", hours=1, next_run_time=datetime.now(UTC), id="slow",
                    max_instances=1)
    try:
        assert started.wait(10)
        running.modify_job("slow", next_run_time=datetime.now(UTC))
        refused = recorder.wait(ev.EVENT_JOB_MAX_INSTANCES, "slow")[0]
        assert isinstance(refused, ev.JobSubmissionEvent)
        assert len(refused.scheduled_run_times) == 1
    finally:
        release.set()
    recorder.wait(ev.EVENT_JOB_EXECUTED, "slow")
    assert len(recorder.matching(ev.EVENT_JOB_SUBMITTED, "slow")) == 1


def test_backlog_runs_in_order_within_one_submission(running, recorder, api):
    """Without coalescing, missed run times are submitted together and run oldest first."""
    ev = api.events
    start = datetime.now(UTC) - timedelta(seconds=2.5)
    running.add_job(noop, "interval", seconds=1, start_date=start, next_run_time=start,
                    coalesce=False, misfire_grace_time=None, id="grid")
    recorder.wait(ev.EVENT_JOB_EXECUTED, "grid", count=3)
    running.pause_job("grid")
    first = recorder.matching(ev.EVENT_JOB_SUBMITTED, "grid")[0]
    expected = [start + timedelta(seconds=i) for i in range(3)]
    assert first.scheduled_run_times[:3] == expected
    executed = [e.scheduled_run_time for e in recorder.matching(ev.EVENT_JOB_EXECUTED, "grid")]
    assert executed[:3] == expected


def test_events_for_pending_jobs(scheduler, recorder, api):
    ev = api.events
    scheduler.add_job(noop, "date", run_date=FAR, id="a")
    scheduler.add_job(noop, "date", run_date=FAR, id="b", jobstore="default")
    assert recorder.events == []  # nothing is added to a store before start
    scheduler.modify_job("a", name="renamed")
    scheduler.remove_job("b")
    scheduler.remove_all_jobs()
    assert [(e.code, getattr(e, "job_id", None), getattr(e, "jobstore", None))
            for e in recorder.events] == [
        (ev.EVENT_JOB_MODIFIED, "a", None),
        (ev.EVENT_JOB_REMOVED, "b", "default"),
        (ev.EVENT_ALL_JOBS_REMOVED, None, None),
    ]


def test_listener_masks_after_adding_and_removing_listeners(running, recorder, api,
                                                            make_recorder):
    """Each listener keeps getting exactly its own events as others come and go."""
    ev = api.events
    submitted, executed = make_recorder(), make_recorder()
    running.add_listener(submitted, ev.EVENT_JOB_SUBMITTED)
    running.add_listener(executed, ev.EVENT_JOB_EXECUTED)
    running.add_job(noop, id="one")
    executed.wait(ev.EVENT_JOB_EXECUTED, "one")
    submitted.wait(ev.EVENT_JOB_SUBMITTED, "one")
    running.remove_listener(executed)
    running.add_job(noop, id="two")
    submitted.wait(ev.EVENT_JOB_SUBMITTED, "two")
    recorder.wait(ev.EVENT_JOB_EXECUTED, "two")  # the fixture's catch-all listener
    running.add_listener(executed, ev.EVENT_JOB_EXECUTED)
    running.add_job(noop, id="three")
    executed.wait(ev.EVENT_JOB_EXECUTED, "three")
    submitted.wait(ev.EVENT_JOB_SUBMITTED, "three")
    assert {e.code for e in submitted.events} == {ev.EVENT_JOB_SUBMITTED}
    assert {e.code for e in executed.events} == {ev.EVENT_JOB_EXECUTED}
    assert "two" not in {e.job_id for e in executed.events}


def test_all_events_mask_by_default(running, make_recorder, api):
    ev = api.events
    everything = make_recorder()
    running.add_listener(everything)
    running.add_job(noop, id="x")
    everything.wait(ev.EVENT_JOB_REMOVED, "x")
    codes = everything.codes("x")
    assert codes[0] == ev.EVENT_JOB_ADDED
    assert ev.EVENT_JOB_SUBMITTED in codes and ev.EVENT_JOB_EXECUTED in codes
    assert sum(
        getattr(ev, name) for name in dir(ev)
        if name.startswith("EVENT_") and name not in ("EVENT_ALL", "EVENT_SCHEDULER_START")
        and isinstance(getattr(ev, name), int)
    ) == ev.EVENT_ALL
