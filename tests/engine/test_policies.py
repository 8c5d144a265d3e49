"""Run policies: misfire grace time, coalescing, max_instances, jitter and job defaults."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest

UTC = timezone.utc


def noop():
    return None


# --- misfire_grace_time ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("grace", "runs"),
    [(None, True), (60, True), (2, False)],
    ids=["unlimited", "within-grace", "beyond-grace"],
)
def test_misfire_grace_time(running, recorder, api, grace, runs):
    ev = api.events
    run_date = datetime.now(UTC) - timedelta(seconds=10)
    running.add_job(noop, "date", run_date=run_date, misfire_grace_time=grace, id="late")
    outcome = recorder.wait(ev.EVENT_JOB_EXECUTED | ev.EVENT_JOB_MISSED, "late")[0]
    assert outcome.code == (ev.EVENT_JOB_EXECUTED if runs else ev.EVENT_JOB_MISSED)
    assert outcome.scheduled_run_time == run_date


def test_default_grace_time_is_one_second(running, recorder, api):
    ev = api.events
    running.add_job(noop, "date", run_date=datetime.now(UTC) - timedelta(seconds=5), id="late")
    assert recorder.wait(ev.EVENT_JOB_EXECUTED | ev.EVENT_JOB_MISSED, "late")[0].code == (
        ev.EVENT_JOB_MISSED
    )


def test_grace_applies_per_run_time_of_a_backlog(running, recorder, api):
    """Of the missed run times, only those still within the grace time run."""
    ev = api.events
    start = datetime.now(UTC) - timedelta(seconds=30.5)
    end = start + timedelta(seconds=30)
    running.add_job(noop, "interval", seconds=10, start_date=start, end_date=end,
                    next_run_time=start, coalesce=False, misfire_grace_time=15, id="grid")
    recorder.wait(ev.EVENT_JOB_REMOVED, "grid")
    outcomes = recorder.wait(ev.EVENT_JOB_EXECUTED | ev.EVENT_JOB_MISSED, "grid", count=4)
    by_time = {e.scheduled_run_time: e.code for e in outcomes}
    assert by_time == {
        start: ev.EVENT_JOB_MISSED,
        start + timedelta(seconds=10): ev.EVENT_JOB_MISSED,
        start + timedelta(seconds=20): ev.EVENT_JOB_EXECUTED,
        start + timedelta(seconds=30): ev.EVENT_JOB_EXECUTED,
    }


# --- coalesce ----------------------------------------------------------------------------------


@pytest.mark.parametrize("coalesce", [True, False])
def test_coalesce_with_a_job_behind(running, recorder, api, coalesce):
    ev = api.events
    calls = []
    start = datetime.now(UTC) - timedelta(seconds=3.5)
    running.add_job(calls.append, "interval", seconds=1, start_date=start, next_run_time=start,
                    args=["run"], coalesce=coalesce, misfire_grace_time=None, id="behind")
    submission = recorder.wait(ev.EVENT_JOB_SUBMITTED, "behind")[0]
    backlog = [start + timedelta(seconds=i) for i in range(4)]
    expected = backlog if not coalesce else backlog[-1:]
    assert submission.scheduled_run_times[: len(expected)] == expected
    if coalesce:
        assert len(submission.scheduled_run_times) == 1
    recorder.wait(ev.EVENT_JOB_EXECUTED, "behind", count=len(expected))
    running.pause_job("behind")
    executed = [e.scheduled_run_time for e in recorder.matching(ev.EVENT_JOB_EXECUTED, "behind")]
    assert executed[: len(expected)] == expected


def test_next_run_after_catch_up_stays_on_the_grid(paused, api):
    start = datetime.now(UTC) - timedelta(seconds=3.5)
    paused.add_job(noop, "interval", seconds=1, start_date=start, next_run_time=start,
                   misfire_grace_time=None, id="grid")
    done = threading.Event()
    paused.add_listener(lambda e: done.set(), api.events.EVENT_JOB_SUBMITTED)
    paused.resume()
    assert done.wait(10)
    paused.pause()
    next_run = paused.get_job("grid").next_run_time
    offset = (next_run - start).total_seconds()
    assert offset == int(offset)
    assert next_run > datetime.now(UTC) - timedelta(seconds=1)


# --- max_instances -----------------------------------------------------------------------------


def test_max_instances_allows_that_many_concurrent_runs(running, recorder, api):
    ev = api.events
    release = threading.Event()
    active = []
    cond = threading.Condition()

    def slow():
        with cond:
            active.append(1)
            cond.notify_all()
        release.wait(10)

    running.add_job(slow, "interval", hours=1, next_run_time=datetime.now(UTC),
                    max_instances=2, id="slow")
    try:
        with cond:
            assert cond.wait_for(lambda: len(active) == 1, 10)
        running.modify_job("slow", next_run_time=datetime.now(UTC))
        with cond:
            assert cond.wait_for(lambda: len(active) == 2, 10)
        running.modify_job("slow", next_run_time=datetime.now(UTC))
        recorder.wait(ev.EVENT_JOB_MAX_INSTANCES, "slow")
        assert len(active) == 2
    finally:
        release.set()
    recorder.wait(ev.EVENT_JOB_EXECUTED, "slow", count=2)
    # Once the runs finished the job can run again.
    running.modify_job("slow", next_run_time=datetime.now(UTC))
    recorder.wait(ev.EVENT_JOB_EXECUTED, "slow", count=3)


def test_max_instances_refusal_keeps_the_schedule(running, recorder, api):
    ev = api.events
    started, release = threading.Event(), threading.Event()

    def slow():
        started.set()
        release.wait(10)

    running.add_job(slow, "interval", hours=1, next_run_time=datetime.now(UTC), id="slow")
    try:
        assert started.wait(10)
        running.modify_job("slow", next_run_time=datetime.now(UTC))
        recorder.wait(ev.EVENT_JOB_MAX_INSTANCES, "slow")
        job = running.get_job("slow")
        assert job is not None
        assert job.next_run_time > datetime.now(UTC) + timedelta(minutes=30)
    finally:
        release.set()


# --- jitter ------------------------------------------------------------------------------------


def test_interval_jitter_spreads_next_run_times(paused):
    start = datetime(2030, 1, 1, tzinfo=UTC)
    times = [
        paused.add_job(noop, "interval", minutes=10, start_date=start, jitter=60).next_run_time
        for _ in range(20)
    ]
    assert all(start <= t <= start + timedelta(seconds=60) for t in times)
    assert len(set(times)) > 1


def test_cron_jitter_spreads_next_run_times(paused):
    times = [
        paused.add_job(noop, "cron", year=2030, month=1, day=1, hour=0, jitter=30).next_run_time
        for _ in range(20)
    ]
    start = datetime(2030, 1, 1, tzinfo=UTC)
    assert all(start <= t <= start + timedelta(seconds=30) for t in times)
    assert len(set(times)) > 1


def test_jittered_job_runs(running, recorder, api):
    running.add_job(noop, "interval", seconds=1, jitter=0.2, id="jit",
                    next_run_time=datetime.now(UTC))
    recorder.wait(api.events.EVENT_JOB_EXECUTED, "jit")


# --- job defaults ------------------------------------------------------------------------------


def test_job_defaults_apply_to_pending_and_live_jobs(make_scheduler):
    sched = make_scheduler(
        job_defaults={"misfire_grace_time": None, "coalesce": False, "max_instances": 7}
    )
    pending = sched.add_job(noop, "date", run_date=datetime(2030, 1, 1, tzinfo=UTC), id="p")
    sched.start(paused=True)
    live = sched.add_job(noop, "date", run_date=datetime(2030, 1, 1, tzinfo=UTC), id="l")
    for job in (sched.get_job("p"), live):
        assert (job.misfire_grace_time, job.coalesce, job.max_instances) == (None, False, 7)
    assert pending.max_instances == 7


def test_builtin_defaults(paused):
    job = paused.add_job(noop, "date", run_date=datetime(2030, 1, 1, tzinfo=UTC))
    assert (job.misfire_grace_time, job.coalesce, job.max_instances) == (1, True, 1)
