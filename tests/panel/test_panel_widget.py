"""Job panel at the widget-state level: actions change the scheduler, events change the widgets."""

from __future__ import annotations

import threading

import pytest

from nbsched.notebook.capture import OutputCapture
from nbsched.notebook.panel import (
    MAX_REFETCH_PER_TICK,
    JobPanel,
    css_id,
    format_countdown,
    format_duration,
    panel,
)
from nbsched.schedulers.base import STATE_PAUSED, STATE_RUNNING


def noop():
    return 42


def fail():
    raise RuntimeError("disk on fire")


def chatty():
    print("hello from the job")


@pytest.fixture
def make_panel(scheduler, panels):
    def make(**options):
        options.setdefault("autostart", False)
        made = JobPanel(scheduler, **options)
        panels.append(made)
        return made
    return make


def test_root_and_buttons_have_stable_css_classes(scheduler, make_panel):
    scheduler.add_job(noop, "interval", minutes=5, id="job-1")
    view = make_panel()
    assert "nbsched-panel" in view._dom_classes
    row = view.row("job-1")
    for action in ("pause", "resume", "run", "remove", "edit", "details"):
        assert f"nbsched-{action}-job-1" in row.buttons[action]._dom_classes
    assert "nbsched-pause-all" in view._pause_all._dom_classes
    assert css_id("a b/c") == "a_20b_2fc"
    assert css_id("a_b") != css_id("a b")


def test_rows_show_trigger_in_words_countdown_executor_and_state(scheduler, make_panel):
    scheduler.add_job(noop, "interval", minutes=5, id="every5", name="Every five")
    scheduler.add_job(noop, "cron", hour=3, id="nightly")
    view = make_panel()
    texts = view.row_texts("every5")
    assert texts["name"] == "Every five every5"
    assert texts["trigger"] == "every 5 minutes"
    assert "in 4 min" in texts["next_run"] or "in 5 min" in texts["next_run"]
    assert texts["executor"] == "default"
    assert texts["state"] == "scheduled"
    assert texts["last"] == "never"
    assert texts["runs"] == "0"
    assert texts["progress_visible"] == "hidden"
    assert view.row_texts("nightly")["trigger"] == scheduler.get_job("nightly").trigger.describe()


def test_pause_and_resume_buttons_change_the_scheduler(scheduler, make_panel):
    scheduler.add_job(noop, "interval", minutes=5, id="j")
    view = make_panel()
    row = view.row("j")
    assert row.buttons["resume"].layout.display == "none"
    row.buttons["pause"].click()
    assert scheduler.get_job("j").next_run_time is None
    assert view.row_texts("j")["state"] == "paused"
    assert view.row_texts("j")["next_run"] == "—"
    assert row.buttons["pause"].layout.display == "none"
    assert row.buttons["resume"].layout.display == ""
    row.buttons["resume"].click()
    assert scheduler.get_job("j").next_run_time is not None
    assert view.row_texts("j")["state"] == "scheduled"


def test_run_now_runs_the_job_and_keeps_its_schedule(scheduler, runs, make_panel):
    scheduler.add_job(noop, "interval", hours=1, id="j")
    before = scheduler.get_job("j").next_run_time
    view = make_panel()
    view.row("j").buttons["run"].click()
    runs.wait("j")
    view.tick()
    texts = view.row_texts("j")
    assert texts["last"].startswith("ok")
    assert texts["runs"] == "1"
    # The run ended before the panel's own submission event: it must not look running.
    assert texts["state"] == "scheduled" and texts["progress_visible"] == "hidden"
    assert scheduler.get_job("j").next_run_time == before
    assert scheduler.get_run_history("j")[0].retval_repr == "42"


def test_remove_needs_a_second_click(scheduler, make_panel):
    scheduler.add_job(noop, "interval", minutes=5, id="j")
    view = make_panel()
    button = view.row("j").buttons["remove"]
    button.click()
    assert scheduler.get_job("j") is not None
    assert button.description == "Sure?"
    button.click()
    assert scheduler.get_job("j") is None
    assert view.job_ids == []
    assert view.row("j") is None


def test_scheduler_events_update_the_widgets(scheduler, runs, make_panel):
    view = make_panel()
    assert view.job_ids == []
    scheduler.add_job(fail, "interval", hours=1, id="bad")
    view.tick()
    assert view.job_ids == ["bad"]
    scheduler.pause_job("bad")
    view.tick()
    assert view.row_texts("bad")["state"] == "paused"
    scheduler.resume_job("bad")
    scheduler.modify_job("bad", next_run_time=scheduler.get_job("bad").next_run_time,
                         name="renamed")
    view.tick()
    assert view.row_texts("bad")["name"].startswith("renamed")
    view.do("run", "bad")
    runs.wait("bad")
    view.tick()
    assert view.row_texts("bad")["last"].startswith("error")
    assert "1 jobs" not in view._summary.value and "1 job" in view._summary.value
    scheduler.remove_job("bad")
    view.tick()
    assert view.job_ids == [] and view.row("bad") is None


def test_scheduled_runs_update_outcome_count_and_next_run(scheduler, runs, make_panel):
    scheduler.add_job(noop, "interval", seconds=1, id="fast")
    view = make_panel()
    first_next = scheduler.get_job("fast").next_run_time
    runs.wait("fast", 2)
    view.tick()
    texts = view.row_texts("fast")
    assert int(texts["runs"]) >= 2
    assert texts["last"].startswith("ok")
    assert view._info["fast"].next_run_time > first_next


def test_pause_all_switch_pauses_the_scheduler_and_follows_it(scheduler, make_panel):
    scheduler.add_job(noop, "interval", minutes=5, id="j")
    view = make_panel()
    view._pause_all.value = True
    assert scheduler.state == STATE_PAUSED
    assert view.row_texts("j")["state"] == "held"
    assert scheduler.get_job("j").next_run_time is not None  # the job's own state is kept
    view._pause_all.value = False
    assert scheduler.state == STATE_RUNNING
    scheduler.pause()
    view.tick()
    assert view._pause_all.value is True
    assert "scheduler paused" in view._summary.value
    scheduler.resume()
    view.tick()
    assert view._pause_all.value is False


def test_detail_view_shows_history_output_and_traceback(scheduler, runs, make_panel):
    capture = OutputCapture(None, scheduler)
    capture.install()
    try:
        scheduler.add_job(chatty, "interval", hours=1, id="talk")
        scheduler.add_job(fail, "interval", hours=1, id="bad")
        view = make_panel(capture=capture)
        view.do("run", "talk")
        view.do("run", "bad")
        runs.wait("talk")
        runs.wait("bad")
        view.row("talk").buttons["details"].click()
        assert "hello from the job" in view.detail_html
        assert ">ok<" in view.detail_html
        view.do("details", "bad")
        detail = view.detail_html
        assert "RuntimeError: disk on fire" in detail
        assert "nbsched-traceback" in detail and "Traceback (most recent call last)" in detail
        # New output for the job on show refreshes the detail view on the next tick.
        view.do("run", "bad")
        runs.wait("bad", 2)
        view.tick()
        assert view.detail_html.count(">error<") == 2
    finally:
        capture.uninstall()


def test_edit_trigger_reschedules_the_job(scheduler, make_panel):
    scheduler.add_job(noop, "interval", minutes=5, id="j")
    view = make_panel()
    view.row("j").buttons["edit"].click()
    editor = view._editor
    assert editor is not None and editor.kind.value == "interval"
    assert editor.fields["interval"]["minutes"].value == 5
    editor.kind.value = "cron"
    editor.fields["cron"]["crontab"].value = "15 4 * * *"
    editor.create.click()
    job = scheduler.get_job("j")
    assert type(job.trigger).__name__ == "CronTrigger"
    assert (job.next_run_time.hour, job.next_run_time.minute) == (4, 15)
    assert view._editor is None  # closed after applying
    view.tick()
    assert view.row_texts("j")["trigger"] == job.trigger.describe()


def test_action_errors_are_shown_not_raised(scheduler, make_panel):
    scheduler.add_job(noop, "interval", minutes=5, id="j")
    scheduler.add_job(noop, "interval", minutes=5, id="k")
    view = make_panel()
    row = view.row("j")
    scheduler.remove_job("j")  # gone before the panel heard of it
    row.buttons["pause"].click()
    assert "pause j" in view._message.value and "Error" in view._message.value
    with pytest.raises(ValueError, match="action"):
        view.do("explode", "k")


def test_paging_keeps_widgets_to_one_page(scheduler, make_panel):
    for number in range(60):
        scheduler.add_job(noop, "interval", minutes=5, id=f"j{number:02d}")
    view = make_panel(page_size=25)
    assert len(view.visible_job_ids) == 25 and len(view._rows) == 25
    assert view._pager.layout.display == "flex"
    view._next.click()
    assert view.visible_job_ids[0] == "j25"
    view._next.click()
    view._next.click()
    assert view.visible_job_ids == [f"j{n}" for n in range(50, 60)]
    assert len(view._rows) == 10


def test_a_burst_of_changes_is_applied_in_bounded_batches(scheduler, make_panel):
    view = make_panel()
    for number in range(120):
        scheduler.add_job(noop, "interval", minutes=5, id=f"j{number:03d}")
    view.tick()
    assert len(view.job_ids) == MAX_REFETCH_PER_TICK
    view.tick()
    view.tick()
    assert len(view.job_ids) == 120


def test_timer_ticks_and_stops_when_closed(scheduler, wait_until):
    view = JobPanel(scheduler, interval=1.0)
    try:
        assert view.timer_running
        wait_until(lambda: view.tick_count >= 1, timeout=5, what="a timer tick")
        listeners_before = len(scheduler._listeners)
    finally:
        view.close()
    assert not view.timer_running
    assert len(scheduler._listeners) == listeners_before - 1
    assert threading.active_count() >= 1


def test_bad_options_are_refused(scheduler):
    with pytest.raises(ValueError, match="interval"):
        JobPanel(scheduler, interval=0.2, autostart=False)
    with pytest.raises(ValueError, match="page_size"):
        JobPanel(scheduler, page_size=0, autostart=False)
    with pytest.raises(TypeError, match="scheduler"):
        panel(object())


def test_formatting_helpers():
    assert format_countdown(0) == "due now"
    assert format_countdown(4.2) == "in 5 s"
    assert format_countdown(125) == "in 2 min 05 s"
    assert format_countdown(3 * 3600 + 60) == "in 3 h 01 min"
    assert format_countdown(5 * 86400) == "in 5 d 0 h"
    assert format_duration(None) == "" and format_duration(0.5) == "0.50 s"
    assert format_duration(75) == "1 min 15 s"
