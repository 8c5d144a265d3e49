"""Quick checks of the engine's own additions (the full suite lives next to this file).

Covers what APScheduler does not have or does differently on purpose: bounded catch-up,
run history, plugin lookup errors, configuration with both key prefixes, export/import,
print_jobs output, the asyncio front end without a running loop, and concurrent API use
while jobs fire.
"""

from __future__ import annotations

import asyncio
import io
import logging
import threading
from datetime import datetime, timedelta, timezone

import pytest

from nbsched.events import EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, EVENT_JOB_SUBMITTED
from nbsched.executors.debug import DebugExecutor
from nbsched.history import RunHistory, RunRecord
from nbsched.job import Job
from nbsched.plugins import load_plugin
from nbsched.schedulers.asyncio import AsyncIOScheduler
from nbsched.schedulers.background import BackgroundScheduler
from nbsched.schedulers.base import STATE_PAUSED, STATE_RUNNING
from nbsched.triggers.interval import IntervalTrigger

UTC = timezone.utc
FAR = datetime(2060, 1, 1, tzinfo=UTC)


def noop(*args: object) -> None:
    pass


def double(x: int) -> int:
    return x * 2


@pytest.fixture
def paused():
    scheduler = BackgroundScheduler(timezone="UTC", executors={"default": DebugExecutor()})
    scheduler.start(paused=True)
    yield scheduler
    if scheduler.running:
        scheduler.shutdown(wait=False)


def wait_for(listener_scheduler, code: int, count: int, action) -> list:
    """Run ``action`` and wait until ``count`` events with ``code`` arrived."""
    seen: list = []
    cond = threading.Condition()

    def listener(event):
        with cond:
            seen.append(event)
            cond.notify_all()

    listener_scheduler.add_listener(listener, code)
    action()
    with cond:
        assert cond.wait_for(lambda: len(seen) >= count, 10), seen
    listener_scheduler.remove_listener(listener)
    return seen


def test_plugin_lookup_lists_known_aliases():
    assert load_plugin("nbsched.triggers", "interval") is IntervalTrigger
    with pytest.raises(LookupError, match=r"No trigger by the name 'sometimes'.*interval"):
        load_plugin("nbsched.triggers", "sometimes")


def test_flat_keys_with_either_prefix_and_string_values():
    scheduler = BackgroundScheduler({
        "apscheduler.job_defaults.coalesce": "false",
        "nbsched.job_defaults.max_instances": "4",
        "apscheduler.timezone": "Europe/Paris",
        "other.timezone": "UTC",
    })
    job = scheduler.add_job(noop, "date", run_date=FAR)
    scheduler.start(paused=True)
    try:
        job = scheduler.get_job(job.id)
        assert (job.coalesce, job.max_instances, job.misfire_grace_time) == (False, 4, 1)
        assert str(scheduler.timezone) == "Europe/Paris"
    finally:
        scheduler.shutdown()


def test_add_job_validates_like_apscheduler(paused):
    with pytest.raises(TypeError):
        paused.add_job(noop, "date", run_date=FAR, misfire_grace_time=-1)
    with pytest.raises(TypeError):
        paused.add_job(noop, "date", run_date=FAR, max_instances=0)
    with pytest.raises(ValueError):
        paused.add_job(double, "date", run_date=FAR)  # missing argument
    with pytest.raises(KeyError, match="No such job store: nowhere"):
        paused.add_job(noop, "date", run_date=FAR, jobstore="nowhere")
    assert paused.get_jobs() == []


def test_catch_up_without_coalescing_is_bounded_and_warns(caplog):
    scheduler = BackgroundScheduler(timezone="UTC", executors={"default": DebugExecutor()},
                                    max_catchup_runs=5)
    scheduler.start(paused=True)
    try:
        first = datetime.now(UTC) - timedelta(hours=1)
        scheduler.add_job(noop, IntervalTrigger(seconds=1, start_date=first), id="behind",
                          next_run_time=first, coalesce=False, misfire_grace_time=None)
        with caplog.at_level(logging.WARNING, logger="nbsched.scheduler"):
            submitted = wait_for(scheduler, EVENT_JOB_SUBMITTED, 1, scheduler.resume)
        assert len(submitted[0].scheduled_run_times) == 5
        assert any("runs behind" in r.getMessage() and "skipped" in r.getMessage()
                   for r in caplog.records)
        assert scheduler.get_job("behind").next_run_time > first + timedelta(minutes=59)
    finally:
        scheduler.shutdown(wait=False)


def test_run_history_newest_first(paused):
    past = datetime.now(UTC) - timedelta(minutes=1)
    paused.add_job(double, "date", run_date=past, args=[21], id="ok", misfire_grace_time=None)
    paused.add_job(noop, "date", run_date=past - timedelta(days=1), id="late")

    def go():
        paused.resume()

    wait_for(paused, EVENT_JOB_EXECUTED | EVENT_JOB_MISSED, 2, go)
    history = paused.get_run_history()
    assert [r.outcome for r in history] == ["ok", "missed"]
    assert history[0].retval_repr == "42"
    assert paused.get_run_history("late")[0].outcome == "missed"
    assert paused.get_run_history(limit=1) == history[:1]


def test_run_history_is_bounded_and_truncates():
    history = RunHistory(maxlen=3)
    now = datetime.now(UTC)
    for index in range(5):
        history.add(RunRecord(f"j{index}", "default", now, now, now, "ok", "x" * 300))
    records = history.get()
    assert [r.job_id for r in records] == ["j4", "j3", "j2"]


def test_print_jobs_plain_text(paused):
    paused.add_job(noop, "date", run_date=FAR, id="a", name="alpha")
    out = io.StringIO()
    paused.print_jobs(out=out)
    assert out.getvalue() == (
        "Jobstore default:\n"
        "    alpha (trigger: date[2060-01-01 00:00:00 UTC], next run at: 2060-01-01 00:00:00 UTC)\n"
    )


def test_export_import_round_trip(paused):
    paused.add_job(double, "interval", hours=1, start_date=FAR, args=[1], id="i")
    paused.add_job("math:gcd", "cron", hour=3, args=(4, 6), id="c")
    stream = io.StringIO()
    paused.export_jobs(stream)
    other = BackgroundScheduler(timezone="UTC")
    other.start(paused=True)
    try:
        other.import_jobs(io.StringIO(stream.getvalue()))
        assert [str(j) for j in other.get_jobs()] == [str(j) for j in paused.get_jobs()]
        assert other.get_job("c").func(*other.get_job("c").args) == 2
    finally:
        other.shutdown()


def test_job_state_round_trip(paused):
    job = paused.add_job(double, "interval", minutes=5, args=[3], id="s")
    clone = Job.__new__(Job)
    clone.__setstate__(job.__getstate__())
    assert (clone.id, clone.func, clone.args, clone.trigger) == ("s", double, (3,), job.trigger)


def test_asyncio_scheduler_without_a_running_loop():
    loop = asyncio.new_event_loop()
    try:
        scheduler = AsyncIOScheduler(timezone="UTC", event_loop=loop)
        results: list = []
        scheduler.add_listener(lambda e: results.append(e.retval), EVENT_JOB_EXECUTED)
        scheduler.add_job(double, args=[5])
        scheduler.start()  # must not block
        assert scheduler.state == STATE_RUNNING

        async def until_ran():
            while not results:
                await asyncio.sleep(0.01)

        loop.run_until_complete(asyncio.wait_for(until_ran(), 10))
        assert results == [10]
        scheduler.pause()
        assert scheduler.state == STATE_PAUSED
        scheduler.shutdown()
    finally:
        loop.close()


def test_concurrent_api_use_while_jobs_fire():
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.start()
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            for n in range(100):
                job_id = f"w{index}-{n}"
                scheduler.add_job(noop, "interval", seconds=0.05, id=job_id)
                scheduler.modify_job(job_id, name=f"n{n}")
                if n % 2:
                    scheduler.remove_job(job_id)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        assert len(scheduler.get_jobs()) == 8 * 50
    finally:
        scheduler.shutdown()


def test_a_job_with_a_broken_trigger_is_paused_not_fatal(paused, caplog):
    class Broken(IntervalTrigger):
        def get_next_fire_time(self, previous_fire_time, now):
            if previous_fire_time is not None:
                raise RuntimeError("broken trigger")
            return super().get_next_fire_time(previous_fire_time, now)

    past = datetime.now(UTC) - timedelta(seconds=5)
    paused.add_job(noop, Broken(seconds=1, start_date=past), id="broken", next_run_time=past)
    paused.add_job(double, "date", run_date=past, args=[1], id="fine", misfire_grace_time=None)
    with caplog.at_level(logging.ERROR, logger="nbsched.scheduler"):
        wait_for(paused, EVENT_JOB_EXECUTED, 1, paused.resume)
        paused.pause()
    assert paused.get_job("broken").next_run_time is None
    assert any("pausing it" in r.getMessage() for r in caplog.records)
    assert paused.get_job("fine") is None  # ran and was removed


_SELF_LOOKUP: dict = {}


def look_up_self(job_id: str) -> None:
    """A job that notes what its scheduler's store says about it while it runs (by reference,
    so persistent stores can hold it)."""
    job = _SELF_LOOKUP["scheduler"].get_job(job_id)
    _SELF_LOOKUP["seen"][job_id] = job if job is None else job.next_run_time


@pytest.mark.parametrize("store", ["memory", "sqlite"])
def test_next_run_time_is_stored_before_the_run_starts(store, tmp_path):
    """At most once per fire time across a crash: by the time a run starts, the store already
    holds the job's *next* run time (or no longer holds a finished job), so a scheduler killed
    during the run does not repeat it after a restart."""
    if store == "sqlite":
        pytest.importorskip("sqlalchemy")
        from nbsched.jobstores.sqlalchemy import SQLAlchemyJobStore

        jobstore = SQLAlchemyJobStore(url=f"sqlite:///{tmp_path / 'jobs.sqlite'}")
    else:
        from nbsched.jobstores.memory import MemoryJobStore

        jobstore = MemoryJobStore()
    scheduler = BackgroundScheduler(
        timezone="UTC", executors={"default": DebugExecutor()}, jobstores={"default": jobstore}
    )
    scheduler.start(paused=True)
    _SELF_LOOKUP.update(scheduler=scheduler, seen={})
    seen = _SELF_LOOKUP["seen"]
    past = datetime.now(UTC) - timedelta(seconds=30)
    try:
        scheduler.add_job(look_up_self, "date", run_date=past, args=["once"], id="once",
                          misfire_grace_time=None)
        scheduler.add_job(look_up_self, IntervalTrigger(minutes=1, start_date=past), args=["every"],
                          id="every", misfire_grace_time=None, next_run_time=past)
        wait_for(scheduler, EVENT_JOB_EXECUTED, 2, scheduler.resume)
    finally:
        scheduler.shutdown()
        _SELF_LOOKUP.clear()
    assert seen["once"] is None
    assert seen["every"] == past + timedelta(minutes=1)


def test_display_methods_render_lazily_without_ipython() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from nbsched.schedulers.background import BackgroundScheduler\n"
        "from nbsched.triggers.interval import IntervalTrigger\n"
        "assert 'IPython' not in sys.modules and 'ipywidgets' not in sys.modules\n"
        "assert 'nbsched.notebook.display' not in sys.modules\n"
        "s = BackgroundScheduler(timezone='UTC')\n"
        "s.start(paused=True)\n"
        "job = s.add_job(print, IntervalTrigger(seconds=5), id='shown', name='shown job')\n"
        "for obj in (job, job.trigger, s):\n"
        "    html = obj._repr_html_()\n"
        "    assert html.startswith('<') and '</table>' in html, html\n"
        "    assert obj.__rich__() is not None\n"
        "assert 'shown job' in job._repr_html_()\n"
        "assert 'IPython' not in sys.modules and 'ipywidgets' not in sys.modules\n"
        "s.shutdown()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


def _read_ahead_scheduler(store, **options):
    scheduler = BackgroundScheduler(
        timezone="UTC", jobstores={"default": store}, executors={"default": DebugExecutor()},
        **options,
    )
    return scheduler


def test_read_ahead_runs_never_start_before_their_fire_time() -> None:
    from nbsched.jobstores.memory import MemoryJobStore

    scheduler = _read_ahead_scheduler(MemoryJobStore(), read_ahead=0.2)
    assert scheduler.read_ahead == 0.2
    events: list = []
    done = threading.Event()

    def listener(event) -> None:
        events.append(event)
        if len(events) == 5:
            done.set()

    scheduler.add_listener(listener, EVENT_JOB_EXECUTED)
    base = datetime.now(UTC) + timedelta(seconds=0.15)
    for index in range(3):
        scheduler.add_job(noop, "date", run_date=base + timedelta(milliseconds=30 * index),
                          id=f"d{index}", misfire_grace_time=None)
    scheduler.add_job(noop, "interval", seconds=0.05, start_date=base, id="tick",
                      misfire_grace_time=None, end_date=base + timedelta(seconds=0.05))
    scheduler.start()
    try:
        assert done.wait(10)
    finally:
        scheduler.shutdown()
    # end_date is inclusive: the interval job fires at base and base + 50 ms
    assert sorted(e.job_id for e in events) == ["d0", "d1", "d2", "tick", "tick"]
    for event in events:
        assert event.start_time >= event.scheduled_run_time, event
        assert (event.start_time - event.scheduled_run_time) < timedelta(seconds=1)


def test_a_run_read_ahead_is_cancelled_by_remove_and_pause() -> None:
    from nbsched.jobstores.memory import MemoryJobStore

    read_ahead_done = threading.Event()

    class WatchedStore(MemoryJobStore):
        def remove_job(self, job_id):  # the date job leaves the store when read ahead
            super().remove_job(job_id)
            if job_id == "gone":
                read_ahead_done.set()

    scheduler = _read_ahead_scheduler(WatchedStore(), read_ahead=0.8)
    ran: list[str] = []
    sentinel = threading.Event()

    def listener(event) -> None:
        ran.append(event.job_id)
        if event.job_id == "sentinel":
            sentinel.set()

    scheduler.add_listener(listener, EVENT_JOB_EXECUTED)
    fire = datetime.now(UTC) + timedelta(seconds=0.5)
    scheduler.add_job(noop, "date", run_date=fire, id="gone", misfire_grace_time=None)
    scheduler.add_job(noop, "interval", hours=1, start_date=fire, id="paused",
                      misfire_grace_time=None)
    scheduler.add_job(noop, "date", run_date=fire + timedelta(milliseconds=50), id="sentinel",
                      misfire_grace_time=None)
    scheduler.start()
    try:
        assert read_ahead_done.wait(5)
        scheduler.remove_job("gone")  # already out of the store: cancelled, no JobLookupError
        scheduler.pause_job("paused")
        assert sentinel.wait(5)
    finally:
        scheduler.shutdown()
    assert ran == ["sentinel"]


def test_read_ahead_option_is_checked_and_off_on_asyncio() -> None:
    with pytest.raises(ValueError, match="read_ahead: 5: must be between 0 and 1 second"):
        BackgroundScheduler(read_ahead=5)
    assert BackgroundScheduler().read_ahead == 0.02
    assert BackgroundScheduler(read_ahead=None).read_ahead == 0.0
    assert AsyncIOScheduler().read_ahead == 0.0
