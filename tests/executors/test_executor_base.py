"""run_job semantics, instance counting and the debug executor."""

from __future__ import annotations

import logging
import pickle
from datetime import timedelta

import pytest

from nbsched.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED
from nbsched.executors.base import MaxInstancesReachedError, run_job
from nbsched.executors.debug import DebugExecutor


def double(x):
    return 2 * x


def fail(message):
    raise ValueError(message)


def exit_job():
    raise SystemExit(4)


def interrupt():
    raise KeyboardInterrupt


@pytest.fixture
def debug(scheduler):
    executor = DebugExecutor()
    executor.start(scheduler, "debug")
    return executor


def test_run_job_success_event_has_retval_and_times(make_job, now):
    job = make_job("j", double, 21, _jobstore_alias="store")
    [event] = run_job(job, "store", [now], "nbsched.test")
    assert event.code == EVENT_JOB_EXECUTED
    assert (event.job_id, event.jobstore, event.scheduled_run_time) == ("j", "store", now)
    assert event.retval == 42
    assert event.exception is None and event.traceback is None
    assert now <= event.start_time <= event.end_time
    assert event.start_time.tzinfo is not None


def test_run_job_error_event_has_exception_and_readable_traceback(make_job, now):
    job = make_job("j", fail, "bad value")
    [event] = run_job(job, None, [now], "nbsched.test")
    assert event.code == EVENT_JOB_ERROR
    assert isinstance(event.exception, ValueError)
    assert str(event.exception) == "bad value"
    assert event.retval is None
    # The traceback starts at the job's own function and ends with the message.
    assert event.traceback.startswith("Traceback (most recent call last):")
    assert "in fail" in event.traceback
    assert "in run_job" not in event.traceback
    assert event.traceback.rstrip().endswith("ValueError: bad value")
    assert event.start_time <= event.end_time


def test_run_job_keyword_arguments(make_job, now):
    job = make_job("j", double, kwargs={"x": 5})
    [event] = run_job(job, None, [now], "nbsched.test")
    assert event.retval == 10


def test_misfire_grace_time_reports_missed_runs_and_runs_the_rest(make_job, now):
    calls = []
    job = make_job("j", lambda: calls.append(1) or len(calls), misfire_grace_time=10)
    run_times = [now - timedelta(seconds=60), now - timedelta(seconds=11), now]
    events = run_job(job, None, run_times, "nbsched.test")
    assert [e.code for e in events] == [EVENT_JOB_MISSED, EVENT_JOB_MISSED, EVENT_JOB_EXECUTED]
    assert [e.scheduled_run_time for e in events] == run_times
    assert events[0].start_time is None and events[0].end_time is None
    assert calls == [1]


def test_no_grace_time_always_runs(make_job, now):
    job = make_job("j", double, 1, misfire_grace_time=None)
    events = run_job(job, None, [now - timedelta(days=365)], "nbsched.test")
    assert [e.code for e in events] == [EVENT_JOB_EXECUTED]


def test_missed_run_is_logged(make_job, now, caplog):
    job = make_job("j", double, 1, misfire_grace_time=1)
    with caplog.at_level(logging.WARNING, logger="nbsched.test"):
        run_job(job, None, [now - timedelta(minutes=5)], "nbsched.test")
    assert "was missed by" in caplog.text


def test_system_exit_is_a_job_error_but_keyboard_interrupt_propagates(make_job, now):
    [event] = run_job(make_job("j", exit_job), None, [now], "nbsched.test")
    assert event.code == EVENT_JOB_ERROR
    assert isinstance(event.exception, SystemExit)
    with pytest.raises(KeyboardInterrupt):
        run_job(make_job("k", interrupt), None, [now], "nbsched.test")


def test_debug_executor_dispatches_before_returning(debug, scheduler, make_job, now):
    debug.submit_job(make_job("a", double, 4), [now])
    debug.submit_job(make_job("b", fail, "x"), [now])
    assert [(e.job_id, e.code) for e in scheduler.events] == [
        ("a", EVENT_JOB_EXECUTED),
        ("b", EVENT_JOB_ERROR),
    ]
    assert scheduler.events[0].retval == 8
    assert debug._instances == {}


def test_debug_executor_one_event_per_run_time(debug, scheduler, make_job, now):
    run_times = [now - timedelta(seconds=2), now - timedelta(seconds=1), now]
    debug.submit_job(make_job("a", double, 1), run_times)
    assert [e.scheduled_run_time for e in scheduler.events] == run_times


def test_max_instances_refuses_a_submission_while_runs_are_active(debug, make_job, now):
    job = make_job("busy", double, 1, max_instances=2)
    debug._instances["busy"] = 2  # two runs in flight elsewhere
    with pytest.raises(MaxInstancesReachedError, match=r"'busy'.*max_instances=2"):
        debug.submit_job(job, [now])
    assert debug._instances == {"busy": 2}


def test_recursive_submission_counts_the_running_instance(debug, scheduler, make_job, now):
    """A job that resubmits itself while running sees its own instance counted."""
    refused = []

    def reentrant():
        try:
            debug.submit_job(job, [now])
        except MaxInstancesReachedError as exc:
            refused.append(exc)

    job = make_job("self", reentrant, max_instances=1)
    debug.submit_job(job, [now])
    assert len(refused) == 1
    assert debug._instances == {}


def test_interrupt_gives_the_instance_back(debug, make_job, now):
    with pytest.raises(KeyboardInterrupt):
        debug.submit_job(make_job("k", interrupt), [now])
    assert debug._instances == {}


def test_failing_listener_does_not_lose_other_events(make_job, now):
    class Flaky:
        def __init__(self):
            self.seen = []

        def _create_lock(self):
            import threading

            return threading.RLock()

        def _dispatch_event(self, event):
            self.seen.append(event)
            if len(self.seen) == 1:
                raise RuntimeError("listener broke")

    flaky = Flaky()
    executor = DebugExecutor()
    executor.start(flaky, "debug")
    executor.submit_job(make_job("a", double, 1), [now, now])
    assert len(flaky.seen) == 2
    assert executor._instances == {}


def test_submit_before_start_is_a_clear_error(make_job, now):
    with pytest.raises(RuntimeError, match="DebugExecutor has not been started"):
        DebugExecutor().submit_job(make_job("a", double, 1), [now])


def test_max_instances_error_pickles(make_job):
    error = MaxInstancesReachedError(make_job("a", lambda: None, max_instances=3))
    clone = pickle.loads(pickle.dumps(error))
    assert str(clone) == str(error)
    assert (clone.job_id, clone.max_instances) == ("a", 3)


def test_executor_logger_is_named_after_alias(debug):
    assert debug._logger.name == "nbsched.executors.debug"
    assert "alias='debug'" in repr(debug)
