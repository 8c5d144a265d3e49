"""Features nbsched adds to the APScheduler 3.11 API: run history, bounded catch-up, a rich
``print_jobs``, ``nbsched.``-prefixed flat configuration keys, and ``fire_times_through``.

Every test here is skipped in the reference run against APScheduler.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

UTC = timezone.utc
FAR = datetime(2030, 1, 1, tzinfo=UTC)
pytestmark = pytest.mark.nbsched_only


def noop():
    return None


# --- run history -------------------------------------------------------------------------------


def test_run_record_fields():
    from nbsched.history import RunRecord

    assert [f.name for f in dataclasses.fields(RunRecord)] == [
        "job_id", "jobstore", "scheduled_time", "start_time", "end_time", "outcome",
        "retval_repr", "exception", "traceback",
    ]
    record = RunRecord("j", "default", FAR, FAR, FAR, "ok", "1", None, None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.outcome = "error"


def test_history_of_a_successful_run(running, recorder, api):
    running.add_job(lambda: {"answer": 42}, id="ok")
    executed = recorder.wait(api.events.EVENT_JOB_EXECUTED, "ok")[0]
    [record] = running.get_run_history("ok")
    assert record.job_id == "ok"
    assert record.jobstore == "default"
    assert record.outcome == "ok"
    assert record.scheduled_time == executed.scheduled_run_time
    assert record.start_time is not None and record.end_time is not None
    assert record.start_time <= record.end_time
    assert record.retval_repr == repr({"answer": 42})
    assert record.exception is None and record.traceback is None


def test_history_of_a_failed_run(running, recorder, api):
    def exploding_job():
        raise ValueError("boom")

    running.add_job(exploding_job, id="bad")
    recorder.wait(api.events.EVENT_JOB_ERROR, "bad")
    [record] = running.get_run_history("bad")
    assert record.outcome == "error"
    assert "ValueError" in record.exception and "boom" in record.exception
    assert "exploding_job" in record.traceback
    assert record.retval_repr is None


def test_history_of_missed_and_refused_runs(running, recorder, api):
    ev = api.events
    running.add_job(noop, "date", run_date=datetime.now(UTC) - timedelta(minutes=1), id="late")
    recorder.wait(ev.EVENT_JOB_MISSED, "late")
    [missed] = running.get_run_history("late")
    assert missed.outcome == "missed"
    assert missed.start_time is None

    started, release = threading.Event(), threading.Event()

    def slow():
        started.set()
        release.wait(10)

    running.add_job(slow, "interval", hours=1, next_run_time=datetime.now(UTC), id="slow")
    try:
        assert started.wait(10)
        running.modify_job("slow", next_run_time=datetime.now(UTC))
        recorder.wait(ev.EVENT_JOB_MAX_INSTANCES, "slow")
        assert [r.outcome for r in running.get_run_history("slow")] == ["max_instances"]
    finally:
        release.set()
    recorder.wait(ev.EVENT_JOB_EXECUTED, "slow")
    assert [r.outcome for r in running.get_run_history("slow")] == ["ok", "max_instances"]


def test_history_is_newest_first_filtered_and_limited(running, recorder, api):
    start = datetime.now(UTC) - timedelta(seconds=4.5)
    counter = iter(range(100))
    running.add_job(lambda: next(counter), "interval", seconds=1, start_date=start,
                    next_run_time=start, coalesce=False, misfire_grace_time=None, id="grid")
    running.add_job(noop, id="other")
    recorder.wait(api.events.EVENT_JOB_EXECUTED, "grid", count=5)
    recorder.wait(api.events.EVENT_JOB_EXECUTED, "other")
    running.pause_job("grid")
    grid = running.get_run_history("grid")
    assert [r.retval_repr for r in grid[-5:]] == ["4", "3", "2", "1", "0"]
    times = [r.scheduled_time for r in grid]
    assert times == sorted(times, reverse=True)
    assert [r.retval_repr for r in running.get_run_history("grid", limit=2)] == [
        grid[0].retval_repr, grid[1].retval_repr,
    ]
    everything = running.get_run_history()
    assert {r.job_id for r in everything} == {"grid", "other"}
    assert running.get_run_history("nobody") == []


def test_history_is_bounded(make_scheduler, recorder, api):
    sched = make_scheduler(history_size=3)
    sched.add_listener(recorder)
    sched.start()
    for i in range(5):
        sched.add_job(lambda i=i: i, id=f"j{i}")
        recorder.wait(api.events.EVENT_JOB_EXECUTED, f"j{i}")
    records = sched.get_run_history(limit=100)
    assert [r.job_id for r in records] == ["j4", "j3", "j2"]


def test_history_shortens_long_return_values(running, recorder, api):
    running.add_job(lambda: "x" * 10_000, id="big")
    recorder.wait(api.events.EVENT_JOB_EXECUTED, "big")
    [record] = running.get_run_history("big")
    assert record.retval_repr.startswith("'xxxx")
    assert len(record.retval_repr) <= 500


def test_history_size_must_be_positive(make_scheduler):
    with pytest.raises(ValueError, match="history_size"):
        make_scheduler(history_size=0)


# --- catch-up of a job far behind --------------------------------------------------------------


def _day_behind(sched, coalesce):
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    sched.add_job(noop, "interval", seconds=1, start_date=start, next_run_time=start,
                  coalesce=coalesce, misfire_grace_time=None, id="behind")
    return start


def test_catch_up_with_coalescing_is_one_fast_run(make_scheduler, recorder, api):
    sched = make_scheduler(executors={"default": api.DebugExecutor()})
    sched.add_listener(recorder)
    sched.start(paused=True)
    start = _day_behind(sched, coalesce=True)
    began = time.perf_counter()
    sched.resume()
    submission = recorder.wait(api.events.EVENT_JOB_SUBMITTED, "behind")[0]
    elapsed = time.perf_counter() - began
    sched.pause()
    assert elapsed < 0.5, f"catching up one day of 1 s runs took {elapsed:.3f} s"
    [run_time] = submission.scheduled_run_times
    assert run_time > datetime.now(UTC) - timedelta(seconds=5)
    assert (run_time - start).total_seconds() % 1 == 0
    next_run = sched.get_job("behind").next_run_time
    assert next_run == run_time + timedelta(seconds=1) or next_run > run_time
    assert (next_run - start).total_seconds() % 1 == 0
    assert len(recorder.matching(api.events.EVENT_JOB_EXECUTED, "behind")) == 1


def test_catch_up_without_coalescing_is_bounded_and_warns(make_scheduler, recorder, api, caplog):
    caplog.set_level(logging.WARNING, logger="nbsched.scheduler")
    sched = make_scheduler(executors={"default": api.DebugExecutor()}, max_catchup_runs=50)
    sched.add_listener(recorder)
    sched.start(paused=True)
    start = _day_behind(sched, coalesce=False)
    before = datetime.now(UTC)
    began = time.perf_counter()
    sched.resume()
    submission = recorder.wait(api.events.EVENT_JOB_SUBMITTED, "behind")[0]
    elapsed = time.perf_counter() - began
    after = datetime.now(UTC)
    sched.pause()
    assert elapsed < 2, f"bounded catch-up took {elapsed:.3f} s"
    run_times = submission.scheduled_run_times
    assert len(run_times) == 50
    assert run_times == [run_times[0] + timedelta(seconds=i) for i in range(50)]
    assert run_times[-1] > before - timedelta(seconds=5)  # the latest ones are replayed
    # The warning names how many runs were skipped.
    lowest = int((before - start).total_seconds()) + 1 - 50
    highest = int((after - start).total_seconds()) + 1 - 50
    warnings = [r for r in caplog.records
                if r.name == "nbsched.scheduler" and r.levelno == logging.WARNING]
    assert warnings, "no warning about the skipped runs"
    numbers = {int(n) for r in warnings for n in re.findall(r"\d+", r.getMessage())}
    assert numbers & set(range(lowest, highest + 1)), [r.getMessage() for r in warnings]
    assert any("skipped" in r.getMessage() for r in warnings)
    next_run = sched.get_job("behind").next_run_time
    assert next_run > run_times[-1]
    assert (next_run - start).total_seconds() % 1 == 0


def test_default_catch_up_bound(make_scheduler, recorder, api):
    sched = make_scheduler(executors={"default": api.DebugExecutor()})
    sched.add_listener(recorder)
    sched.start(paused=True)
    _day_behind(sched, coalesce=False)
    sched.resume()
    submission = recorder.wait(api.events.EVENT_JOB_SUBMITTED, "behind")[0]
    sched.pause()
    assert 1 < len(submission.scheduled_run_times) <= 1000


# --- print_jobs as a rich table ----------------------------------------------------------------


def test_print_jobs_without_a_file_prints_a_table(paused, capsys):
    paused.add_job(noop, "date", run_date=FAR, id="alpha-id", name="alpha")
    paused.add_job(noop, "interval", hours=1, next_run_time=None, id="beta-id", name="beta")
    paused.print_jobs()
    text = capsys.readouterr().out
    assert "alpha" in text and "beta" in text
    assert "default" in text
    assert "2030-01-01" in text


def test_print_jobs_table_when_nothing_is_scheduled(scheduler, capsys):
    scheduler.print_jobs()
    assert capsys.readouterr().out.strip()


# --- configuration ------------------------------------------------------------------------------


def test_nbsched_prefixed_flat_keys(make_scheduler):
    sched = make_scheduler(
        "background",
        {
            "nbsched.timezone": "UTC",
            "nbsched.job_defaults.coalesce": "false",
            "nbsched.job_defaults.max_instances": "6",
            "nbsched.executors.default.type": "threadpool",
            "nbsched.executors.default.max_workers": "3",
        },
    )
    sched.start(paused=True)
    job = sched.add_job(noop, "date", run_date=FAR)
    assert (job.coalesce, job.max_instances) == (False, 6)


@pytest.mark.parametrize(
    "options",
    [
        {"max_catchup_runs": 0},
        {"max_catchup_runs": "many"},
        {"job_defaults": {"coalesce": "maybe"}},
    ],
)
def test_bad_nbsched_options_name_the_argument(make_scheduler, options):
    with pytest.raises((ValueError, TypeError)) as info:
        make_scheduler(**options)
    key = next(iter(options)) if "job_defaults" not in options else "coalesce"
    assert key in str(info.value)


# --- fire_times_through ------------------------------------------------------------------------


def test_interval_fire_times_through_is_arithmetic():
    from nbsched.triggers.interval import IntervalTrigger

    start = datetime(2024, 1, 1, tzinfo=UTC)
    trigger = IntervalTrigger(seconds=1, start_date=start)
    began = time.perf_counter()
    latest, total = trigger.fire_times_through(start, start + timedelta(days=1), 3)
    assert time.perf_counter() - began < 0.05
    assert total == 86_401
    assert latest == [start + timedelta(seconds=s) for s in (86_398, 86_399, 86_400)]
    assert trigger.fire_times_through(start, start - timedelta(seconds=1), 3) == ([], 0)
    with pytest.raises(ValueError):
        trigger.fire_times_through(start, start, 0)


def test_cron_fire_times_through():
    from nbsched.triggers.cron import CronTrigger

    trigger = CronTrigger(minute="*/10", timezone="UTC")
    first = datetime(2024, 1, 1, tzinfo=UTC)
    latest, total = trigger.fire_times_through(first, first + timedelta(hours=1, minutes=5), 2)
    assert total == 7
    assert latest == [first + timedelta(minutes=50), first + timedelta(hours=1)]


# --- plugin lookup ----------------------------------------------------------------------------


def test_load_plugin_by_alias():
    from nbsched.executors.pool import ThreadPoolExecutor
    from nbsched.jobstores.memory import MemoryJobStore
    from nbsched.plugins import load_plugin
    from nbsched.triggers.interval import IntervalTrigger

    assert load_plugin("nbsched.triggers", "interval") is IntervalTrigger
    assert load_plugin("nbsched.executors", "threadpool") is ThreadPoolExecutor
    assert load_plugin("nbsched.jobstores", "memory") is MemoryJobStore


def test_unknown_alias_lists_the_known_ones(paused):
    from nbsched.plugins import load_plugin

    with pytest.raises(LookupError) as info:
        load_plugin("nbsched.triggers", "fortnightly")
    message = str(info.value)
    assert "fortnightly" in message
    assert all(alias in message for alias in ("cron", "date", "interval"))
    with pytest.raises(LookupError, match="interval"):
        paused.add_job(noop, "fortnightly")
    with pytest.raises(LookupError, match="threadpool"):
        paused.add_executor("no-such-executor", "x")


# --- jobs whose function cannot be imported by reference --------------------------------------


def test_getstate_keeps_a_local_function_by_value(paused):
    def local(x):
        return x + 1

    job = paused.add_job(local, "date", run_date=FAR, args=[1], id="local")
    state = job.__getstate__()
    assert state["func"] is local
    assert job.func_ref is None


# --- history edge cases -----------------------------------------------------------------------


def test_history_limits(running, recorder, api):
    running.add_job(noop, id="a")
    recorder.wait(api.events.EVENT_JOB_EXECUTED, "a")
    assert running.get_run_history("a", limit=0) == []
    assert len(running.get_run_history("a", limit=5)) == 1
    with pytest.raises(ValueError, match="limit"):
        running.get_run_history("a", limit=-1)


def test_history_survives_removal_of_the_job(running, recorder, api):
    running.add_job(noop, id="gone")
    recorder.wait(api.events.EVENT_JOB_REMOVED, "gone")
    assert [r.outcome for r in running.get_run_history("gone")] == ["ok"]


def test_history_from_an_asyncio_scheduler(make_scheduler, api):
    import asyncio

    sched = make_scheduler("asyncio")

    async def coro_job():
        return "async result"

    async def main():
        loop = asyncio.get_running_loop()
        done = asyncio.Event()
        sched.add_listener(lambda e: loop.call_soon_threadsafe(done.set),
                           api.events.EVENT_JOB_EXECUTED)
        sched.start()
        sched.add_job(coro_job, id="co")
        await asyncio.wait_for(done.wait(), 10)
        records = sched.get_run_history("co")
        sched.shutdown()
        while sched.running:
            await asyncio.sleep(0.005)
        return records

    [record] = asyncio.run(main())
    assert record.outcome == "ok"
    assert record.retval_repr == repr("async result")


# --- migration from APScheduler ---------------------------------------------------------------


def test_import_of_jobs_exported_by_apscheduler(paused):
    import io

    pytest.importorskip("apscheduler")
    from apscheduler.schedulers.background import BackgroundScheduler as ApBackground

    from nbsched.triggers.cron import CronTrigger
    from nbsched.triggers.date import DateTrigger
    from nbsched.triggers.interval import IntervalTrigger

    source = ApBackground(timezone="UTC")
    source.start(paused=True)
    try:
        source.add_job("math:hypot", "interval", minutes=5, args=[3, 4], id="i", name="Hyp",
                       max_instances=2, coalesce=False, misfire_grace_time=None)
        source.add_job("math:sqrt", "cron", hour=6, minute=15, args=[9], id="c")
        source.add_job("math:floor", "date", run_date=FAR, args=[1.5], id="d")
        source.add_job("math:ceil", "interval", hours=1, args=[1.5], id="p", next_run_time=None)
        buffer = io.StringIO()
        source.export_jobs(buffer)
        originals = {j.id: j for j in source.get_jobs()}
    finally:
        source.shutdown(wait=False)

    paused.import_jobs(io.StringIO(buffer.getvalue()))
    jobs = {j.id: j for j in paused.get_jobs()}
    assert jobs.keys() == originals.keys()
    assert isinstance(jobs["i"].trigger, IntervalTrigger)
    assert isinstance(jobs["c"].trigger, CronTrigger)
    assert isinstance(jobs["d"].trigger, DateTrigger)
    for job_id, original in originals.items():
        job = jobs[job_id]
        assert job.func is original.func
        assert tuple(job.args) == tuple(original.args)
        assert (job.name, job.max_instances, job.coalesce, job.misfire_grace_time) == (
            original.name, original.max_instances, original.coalesce,
            original.misfire_grace_time,
        )
        assert job.next_run_time == original.next_run_time
        assert str(job.trigger) == str(original.trigger)
    now = datetime.now(UTC)
    assert jobs["c"].trigger.get_next_fire_time(None, now) == (
        originals["c"].trigger.get_next_fire_time(None, now)
    )
