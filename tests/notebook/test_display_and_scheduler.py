"""Renderings (HTML, rich, text) and the kernel scheduler outside a kernel (no IPython loop)."""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime, timedelta, timezone

import pytest
from rich.console import Console

from nbsched.events import EVENT_JOB_EXECUTED
from nbsched.history import RunRecord
from nbsched.notebook import display
from nbsched.notebook.kernel import KernelScheduler
from nbsched.triggers.cron import CronTrigger
from nbsched.triggers.interval import IntervalTrigger

UTC = timezone.utc


def _render(renderable) -> str:
    console = Console(width=160, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def noop(x=1):
    return x


async def on_loop():
    await asyncio.sleep(0)
    return threading.current_thread().name


@pytest.fixture
def scheduler(tmp_path):
    sched = KernelScheduler(store_url=f"sqlite:///{tmp_path / 'jobs.sqlite'}", timezone="UTC")
    sched.start()
    yield sched
    sched.shutdown(wait=True)


def test_kernel_scheduler_defaults_without_a_kernel_loop(scheduler):
    assert sorted(scheduler._executors) == ["asyncio", "default", "process"]
    assert sorted(scheduler._jobstores) == ["default", "memory"]
    # no IPython kernel here: coroutine jobs get a private loop thread
    assert scheduler._eventloop is not None and scheduler._eventloop.is_running()
    done = threading.Event()
    results = []

    def listener(event):
        results.append(event.retval)
        done.set()

    scheduler.add_listener(listener, EVENT_JOB_EXECUTED)
    job = scheduler.add_job(on_loop, "date", jobstore="memory")
    assert job.executor == "asyncio"  # coroutine functions go to the loop on their own
    assert done.wait(10)
    assert results == ["nbsched-asyncio"]
    assert scheduler.add_job(noop, "interval", hours=1).executor == "default"


def test_job_trigger_scheduler_renderings(scheduler):
    job = scheduler.add_job(noop, "interval", minutes=10, args=(5,), id="j1", name="nightly")
    html = display.job_html(job)
    assert "nightly" in html and "every 10 minutes" in html and "<table" in html
    assert "noop(5)" in html
    text = _render(display.rich_renderable(job))
    assert "every 10 minutes" in text and "j1" in text

    trigger = CronTrigger.from_crontab("0 9 * * mon", timezone="UTC")
    assert "fire 1" in display.trigger_html(trigger)
    assert "fire 5" in _render(display.rich_renderable(trigger))

    html = display.scheduler_html(scheduler)
    assert "KernelScheduler" in html and "running" in html and "nightly" in html
    text = _render(display.rich_renderable(scheduler))
    assert "SQLAlchemyJobStore" in text and "nightly" in text


def test_list_history_and_log_views():
    now = datetime.now(UTC)
    record = RunRecord("j1", "default", now - timedelta(seconds=2), now - timedelta(seconds=2),
                       now - timedelta(seconds=1), "ok", retval_repr="42")
    failed = RunRecord("j1", "default", now, now, now, "error", exception="ValueError: boom")
    view = display.HistoryView([failed, record])
    assert "boom" in view._repr_html_() and "nbsched-error" in view._repr_html_()
    assert "42" in repr(view) and "ValueError" in _render(view)
    assert "no runs yet" in repr(display.HistoryView([]))
    assert "no jobs" in repr(display.JobListView([]))
    assert "no output captured" in repr(display.OutputLogView("j1", []))


def test_relative_time():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert display.relative_time(now + timedelta(seconds=4), now) == "in 4 s"
    assert display.relative_time(now - timedelta(minutes=3), now) == "3 min ago"
    assert display.relative_time(None) == "-"


def test_formatters_register_and_unregister():
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    display.register_formatters(shell)
    formatter = shell.display_formatter.formatters["text/html"]
    trigger = IntervalTrigger(seconds=5, timezone="UTC")
    assert "every 5 seconds" in formatter(trigger)
    display.unregister_formatters(shell)
    # Triggers render through their own _repr_html_ now; the registered printer is gone.
    assert display.trigger_html not in formatter.type_printers.values()


def test_job_table_shows_a_pending_job():
    from nbsched.schedulers.background import BackgroundScheduler

    scheduler = BackgroundScheduler(timezone="UTC")
    job = scheduler.add_job(print, "interval", minutes=5, id="waiting")  # not started: pending
    html = display.job_html(job)
    assert "waiting" in html and "pending" in html


def test_failed_setup_leaves_no_scheduler_running(monkeypatch, tmp_path):
    import threading

    from nbsched.notebook import kernel

    monkeypatch.setenv("NBSCHED_STORE_URL", f"sqlite:///{tmp_path / 'k.sqlite'}")
    monkeypatch.setattr(kernel, "_scheduler", None)
    before = {t.ident for t in threading.enumerate()}

    def broken_setup(scheduler):
        raise RuntimeError("capture could not be installed")

    with pytest.raises(RuntimeError, match="capture could not be installed"):
        kernel.get_scheduler(setup=broken_setup)
    assert kernel._scheduler is None
    scheduler = kernel.get_scheduler()
    try:
        def clocks() -> list:
            return [t for t in threading.enumerate()
                    if t.name == "nbsched" and t.ident not in before and t.is_alive()]

        for thread in clocks():
            if thread is not getattr(scheduler, "_thread", None):
                thread.join(5)  # the failed scheduler's clock, told to stop
        assert len(clocks()) == 1  # only the good scheduler's clock is left
    finally:
        scheduler.shutdown(wait=False)
        monkeypatch.setattr(kernel, "_scheduler", None)
