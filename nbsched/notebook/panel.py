"""The job panel: a live ipywidgets view of a scheduler's jobs, with actions.

``nbsched.panel()`` returns a :class:`JobPanel` (an ipywidgets 8 ``VBox``): one row per job
(name, trigger in words, next run with a countdown, last outcome and its duration, run count,
executor, state, a progress bar while it runs) with pause / resume / run now / remove / edit
trigger / details buttons, a "pause all" switch (pauses the scheduler, keeping each job's own
paused state), a detail view (recent runs, captured output, last traceback) and a trigger
editor.

How it stays cheap when left open for hours (see ``docs/panel.md`` for measurements):

* **Events, not polling.** A scheduler listener records *which* jobs changed (a set add
  under a small lock) and folds run outcomes into per-job counters; it never touches a
  widget, so it is safe on any scheduler thread and costs O(1) per event.
* **One timer.** A single daemon thread ticks at most once a second and applies the
  batched changes under the panel's lock — button handlers (kernel thread) take the same
  lock, so widget state is never written from two threads at once. The timer stops when
  the panel is closed.
* **Bounded work per tick.** At most :data:`MAX_REFETCH_PER_TICK` changed jobs are re-read
  per tick (the rest wait for the next one); only the rows of the visible page (``page_size``)
  exist as widgets; a widget value is assigned only when its text changed, so an idle row
  sends nothing and a far-away countdown sends a message once a minute, not once a second.
"""

from __future__ import annotations

import html
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import ipywidgets as widgets

from nbsched.events import (
    EVENT_ALL_JOBS_REMOVED,
    EVENT_EXECUTOR_ADDED,
    EVENT_EXECUTOR_REMOVED,
    EVENT_JOB_ADDED,
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    EVENT_JOB_MODIFIED,
    EVENT_JOB_REMOVED,
    EVENT_JOB_SUBMITTED,
    EVENT_JOBSTORE_ADDED,
    EVENT_JOBSTORE_REMOVED,
    EVENT_SCHEDULER_PAUSED,
    EVENT_SCHEDULER_RESUMED,
    EVENT_SCHEDULER_SHUTDOWN,
    EVENT_SCHEDULER_STARTED,
)
from nbsched.notebook.run_now import run_now
from nbsched.progress import registry as progress_registry

__all__ = ["MAX_REFETCH_PER_TICK", "JobPanel", "css_id", "format_countdown", "format_duration",
           "panel"]

_logger = logging.getLogger("nbsched.notebook.panel")
_UTC = timezone.utc

#: Changed jobs re-read from the scheduler per tick at most.
MAX_REFETCH_PER_TICK = 50
#: Seconds between re-reads of a visible job whose next run time has passed (the scheduler
#: emits no event when it merely reschedules a job after submitting its run).
STALE_REFETCH_AFTER = 5.0
#: Runs read from history when the panel opens (seeds run counts and last outcomes).
HISTORY_SEED = 5000
#: Runs shown in the detail view.
DETAIL_RUNS = 10
#: Output entries shown in the detail view.
DETAIL_LOG = 50

_RUN_END = EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED
_RELOAD = (EVENT_ALL_JOBS_REMOVED | EVENT_JOBSTORE_ADDED | EVENT_JOBSTORE_REMOVED
           | EVENT_SCHEDULER_STARTED)
_HEADER = (EVENT_SCHEDULER_PAUSED | EVENT_SCHEDULER_RESUMED | EVENT_SCHEDULER_SHUTDOWN
           | EVENT_SCHEDULER_STARTED | EVENT_EXECUTOR_ADDED | EVENT_EXECUTOR_REMOVED)
_OUTCOME_BY_CODE = {EVENT_JOB_EXECUTED: "ok", EVENT_JOB_ERROR: "error",
                    EVENT_JOB_MISSED: "missed"}
_OUTCOME_STYLE = {"ok": "color:#1a7f37", "error": "color:#cf222e;font-weight:600",
                  "missed": "color:#9a6700", "max_instances": "color:#9a6700",
                  "abandoned": "color:#9a6700"}

# Column widths of the job table (header and rows share them).
_COLUMNS = (("Job", "170px"), ("Trigger", "180px"), ("Next run", "170px"),
            ("Last run", "110px"), ("Runs", "45px"), ("Executor", "75px"),
            ("State", "85px"), ("Progress", "140px"))
#: Finished runs remembered so a late ``EVENT_JOB_SUBMITTED`` (dispatched after a fast run
#: already ended) does not mark the job running again.
_ENDED_MEMORY = 2000


def css_id(job_id: str) -> str:
    """A job id made safe for a CSS class name (stable: the same id gives the same class).

    Letters, digits, ``-`` and ``_`` are kept; anything else becomes ``_`` followed by its
    code point in hex, so different ids never share a class.
    """
    return re.sub(r"[^A-Za-z0-9_-]", lambda m: f"_{ord(m.group()):x}", job_id)


def format_duration(seconds: float | None) -> str:
    """``0.42 s``, ``12 s``, ``3 min 5 s``, ``2 h 10 min`` (empty for None)."""
    if seconds is None:
        return ""
    if seconds < 10:
        return f"{seconds:.2f} s"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, sec = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {sec} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    return f"{hours // 24} d {hours % 24} h"


def format_countdown(seconds: float) -> str:
    """How long until a run, coarser the further away (so the text changes rarely).

    Under an hour it counts seconds; beyond that minutes; beyond two days hours — so a
    countdown label sends an update once a second only when the run is near.
    """
    if seconds <= 0:
        return "due now"
    seconds = int(seconds + 0.999)
    if seconds < 60:
        return f"in {seconds} s"
    if seconds < 3600:
        return f"in {seconds // 60} min {seconds % 60:02d} s"
    minutes = seconds // 60
    if minutes < 48 * 60:
        return f"in {minutes // 60} h {minutes % 60:02d} min"
    hours = minutes // 60
    return f"in {hours // 24} d {hours % 24} h"


def _format_when(value: datetime | None, now: datetime) -> str:
    if value is None:
        return "—"
    local = value.astimezone(value.tzinfo or _UTC)
    if local.date() == now.astimezone(local.tzinfo).date():
        return local.strftime("%H:%M:%S")
    return local.strftime("%Y-%m-%d %H:%M")


@dataclass
class _JobInfo:
    """What the panel knows about one job (plain data; widgets are built from it)."""

    job_id: str
    jobstore: str | None = None
    name: str = ""
    trigger_text: str = ""
    next_run_time: datetime | None = None
    executor: str = ""
    runs: int = 0
    last_outcome: str | None = None
    last_duration: float | None = None
    running: set[datetime] = field(default_factory=set)
    refreshed: float = 0.0  # time.monotonic() of the last re-read


class _Row:
    """The widgets of one visible job row (created only for rows on the current page)."""

    def __init__(self, owner: JobPanel, job_id: str) -> None:
        self.job_id = job_id
        cid = css_id(job_id)
        widths = [width for _, width in _COLUMNS]

        def cell(widget: widgets.Widget, width: str) -> widgets.Widget:
            widget.layout.width = width
            widget.layout.overflow = "hidden"
            return widget

        self.name = cell(widgets.HTML(), widths[0])
        self.trigger = cell(widgets.HTML(), widths[1])
        self.next_run = cell(widgets.HTML(), widths[2])
        self.last = cell(widgets.HTML(), widths[3])
        self.runs = cell(widgets.HTML(), widths[4])
        self.executor = cell(widgets.HTML(), widths[5])
        self.state = cell(widgets.HTML(), widths[6])
        self.state.add_class(f"nbsched-state-{cid}")
        self.bar = widgets.FloatProgress(value=0.0, min=0.0, max=1.0,
                                         layout=widgets.Layout(width="55px"))
        self.bar_text = widgets.HTML(layout=widgets.Layout(width="85px", overflow="hidden"))
        self.progress = widgets.HBox([self.bar, self.bar_text],
                                     layout=widgets.Layout(width=widths[7], visibility="hidden"))
        self.buttons: dict[str, widgets.Button] = {}
        for action, icon, tip, style in (
            ("pause", "pause", "Pause: stop running this job until resumed", ""),
            ("resume", "play", "Resume: run this job on its schedule again", ""),
            ("run", "bolt", "Run now (the schedule is unchanged)", ""),
            ("edit", "pencil", "Edit the trigger", ""),
            ("details", "info", "Details: recent runs, output, last traceback", ""),
            ("remove", "trash", "Remove this job (click twice)", "danger"),
        ):
            button = widgets.Button(description="", icon=icon, tooltip=tip,
                                    button_style=style,
                                    layout=widgets.Layout(width="34px", margin="0 1px",
                                                          flex="0 0 auto"))
            button.add_class(f"nbsched-{action}-{cid}")
            button.add_class(f"nbsched-action-{action}")
            button.on_click(owner._action_handler(action, job_id))
            self.buttons[action] = button
        self.confirm_remove_until = 0.0
        self.box = widgets.HBox(
            [self.name, self.trigger, self.next_run, self.last, self.runs, self.executor,
             self.state, self.progress, *self.buttons.values()],
            layout=widgets.Layout(align_items="center", border_bottom="1px solid #eee"),
        )
        self.box.add_class("nbsched-row")
        self.box.add_class(f"nbsched-row-{cid}")
        self._shown: dict[str, Any] = {}

    def set(self, key: str, widget: widgets.Widget, attr: str, value: Any) -> bool:
        """Assign only when changed (an unchanged value sends nothing to the front end)."""
        if self._shown.get(key) == value:
            return False
        self._shown[key] = value
        setattr(widget, attr, value)
        return True

    def close(self) -> None:
        for widget in (*self.box.children, *self.progress.children, self.progress, self.box):
            widget.close()


class JobPanel(widgets.VBox):
    """The live job panel; see the module docstring. Build it with :func:`panel`.

    :param scheduler: the scheduler to show
    :param page_size: job rows shown at once (the rest are a click away)
    :param interval: seconds between timer ticks (at least 1)
    :param autostart: start the timer thread now (tests drive :meth:`tick` by hand)
    :param capture: the output capture to read job output from (default: the installed one)
    """

    def __init__(self, scheduler: Any, *, page_size: int = 25, interval: float = 1.0,
                 autostart: bool = True, capture: Any = None) -> None:
        if scheduler is None or not hasattr(scheduler, "add_listener"):
            raise TypeError(f"scheduler: expected an nbsched scheduler, got {scheduler!r}")
        if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
            raise ValueError(f"page_size: {page_size!r}: must be a positive integer")
        if isinstance(interval, bool) or not isinstance(interval, (int, float)) \
                or interval < 1.0:
            raise ValueError(f"interval: {interval!r}: must be at least 1 second")
        super().__init__()
        self.add_class("nbsched-panel")
        self._scheduler = scheduler
        self._page_size = page_size
        self._interval = float(interval)
        self._page = 0
        if capture is None:
            from nbsched.notebook.capture import get_capture

            capture = get_capture()
        self._capture = capture

        # Shared with scheduler threads: guarded by _state_lock, never holds widgets.
        self._state_lock = threading.Lock()
        self._info: dict[str, _JobInfo] = {}
        self._order: list[str] = []
        self._dirty: set[str] = set()
        self._finished: list[tuple[str, datetime]] = []
        self._ended: OrderedDict[tuple[str, datetime], None] = OrderedDict()
        self._reload = False
        self._header_dirty = True
        self._detail_dirty = False
        self.events_seen = 0

        # Widget state: guarded by _ui_lock (timer thread and kernel thread alike).
        self._ui_lock = threading.RLock()
        self._rows: dict[str, _Row] = {}
        self._visible: list[str] = []
        self._detail_job: str | None = None
        self._editor: Any = None
        self._progress_version = -1
        self.tick_count = 0
        self.tick_seconds_total = 0.0
        self.tick_seconds_max = 0.0
        self.last_tick_seconds = 0.0

        self._build_chrome()
        self._load_all()
        scheduler.add_listener(self._on_event)
        if self._capture is not None:
            self._capture.add_listener(self._on_output)
        self._closed = False
        self._stop = threading.Event()
        self._timer: threading.Thread | None = None
        with self._ui_lock:
            self._apply()
        if autostart:
            self.start_timer()

    # --- construction -----------------------------------------------------------------------

    def _build_chrome(self) -> None:
        self._title = widgets.HTML("<b>nbsched jobs</b>")
        self._summary = widgets.HTML()
        self._summary.add_class("nbsched-summary")
        self._pause_all = widgets.ToggleButton(
            value=False, description="Pause all", icon="pause",
            tooltip="Pause the scheduler: no job runs until switched off (each job keeps "
                    "its own paused state)")
        self._pause_all.add_class("nbsched-pause-all")
        self._pause_all.observe(self._on_pause_all, names="value")
        self._syncing_pause_all = False
        self._message = widgets.HTML()
        self._message.add_class("nbsched-message")
        header = widgets.HBox(
            [widgets.HTML(f"<b>{name}</b>", layout=widgets.Layout(width=width))
             for name, width in _COLUMNS]
            + [widgets.HTML("<b>Actions</b>")],
            layout=widgets.Layout(border_bottom="2px solid #ccc"),
        )
        self._table = widgets.VBox([], layout=widgets.Layout(overflow="auto"))
        self._table.add_class("nbsched-table")
        self._prev = widgets.Button(description="◀", layout=widgets.Layout(width="40px"))
        self._next = widgets.Button(description="▶", layout=widgets.Layout(width="40px"))
        self._page_label = widgets.HTML()
        self._prev.on_click(lambda _: self._turn(-1))
        self._next.on_click(lambda _: self._turn(+1))
        self._pager = widgets.HBox([self._prev, self._page_label, self._next],
                                   layout=widgets.Layout(display="none"))
        self._detail = widgets.VBox([], layout=widgets.Layout(display="none"))
        self._detail.add_class("nbsched-detail")
        self._editor_box = widgets.VBox([], layout=widgets.Layout(display="none"))
        self._editor_box.add_class("nbsched-editor")
        self.children = [
            widgets.HBox([self._title, self._summary, self._pause_all],
                         layout=widgets.Layout(align_items="center")),
            self._message, header, self._table, self._pager, self._editor_box, self._detail,
        ]

    def _load_all(self) -> None:
        """Read every job and seed run counts / last outcomes from run history (once)."""
        scheduler = self._scheduler
        jobs = scheduler.get_jobs()
        try:
            history = scheduler.get_run_history(limit=HISTORY_SEED)
        except Exception:
            _logger.exception("Could not read run history")
            history = []
        seeds: dict[str, _JobInfo] = {}
        for record in history:  # newest first
            info = seeds.get(record.job_id)
            if info is None:
                info = seeds[record.job_id] = _JobInfo(record.job_id)
                info.last_outcome = record.outcome
                if record.start_time and record.end_time:
                    info.last_duration = (record.end_time - record.start_time).total_seconds()
            if record.outcome in ("ok", "error"):
                info.runs += 1
        with self._state_lock:
            old = self._info
            self._info = {}
            self._order = []
            for job in jobs:
                info = old.get(job.id) or seeds.get(job.id) or _JobInfo(job.id)
                self._fill(info, job)
                self._info[job.id] = info
                self._order.append(job.id)
            self._dirty.clear()
            self._header_dirty = True

    @staticmethod
    def _fill(info: _JobInfo, job: Any) -> None:
        info.jobstore = job._jobstore_alias
        info.name = str(job.name)
        try:
            info.trigger_text = job.trigger.describe()
        except Exception:
            info.trigger_text = str(job.trigger)
        info.next_run_time = job.next_run_time
        info.executor = str(job.executor)
        info.refreshed = time.monotonic()

    # --- events (any thread; data only) -----------------------------------------------------

    def _on_event(self, event: Any) -> None:
        code = event.code
        job_id = getattr(event, "job_id", None)
        with self._state_lock:
            self.events_seen += 1
            if code & _RELOAD:
                self._reload = True
            if code & _HEADER:
                self._header_dirty = True
            if job_id is None:
                return
            if code & (EVENT_JOB_ADDED | EVENT_JOB_MODIFIED | EVENT_JOB_REMOVED
                       | EVENT_JOB_MAX_INSTANCES):
                self._dirty.add(job_id)
            elif code == EVENT_JOB_SUBMITTED:
                info = self._info.get(job_id)
                if info is not None:
                    ended = self._ended
                    info.running.update(when for when in event.scheduled_run_times
                                        if (job_id, when) not in ended)
                self._dirty.add(job_id)
            elif code & _RUN_END:
                info = self._info.get(job_id)
                if info is not None:
                    info.running.discard(event.scheduled_run_time)
                    info.last_outcome = _OUTCOME_BY_CODE[code]
                    if code != EVENT_JOB_MISSED:
                        info.runs += 1
                        start, end = event.start_time, event.end_time
                        info.last_duration = ((end - start).total_seconds()
                                              if start and end else None)
                key = (job_id, event.scheduled_run_time)
                self._finished.append(key)
                self._ended[key] = None
                if len(self._ended) > _ENDED_MEMORY:
                    self._ended.popitem(last=False)
                self._dirty.add(job_id)
            if job_id == self._detail_job:
                self._detail_dirty = True

    def _on_output(self, job_id: str | None, entry: Any) -> None:
        if job_id is not None and job_id == self._detail_job:
            self._detail_dirty = True

    # --- the timer --------------------------------------------------------------------------

    def start_timer(self) -> None:
        """Start the one timer thread (idempotent; a closed panel does not restart)."""
        if self._closed or (self._timer is not None and self._timer.is_alive()):
            return
        self._stop.clear()
        self._timer = threading.Thread(target=self._run_timer, name="nbsched-panel-timer",
                                       daemon=True)
        self._timer.start()

    def stop_timer(self) -> None:
        """Stop the timer thread (the panel stays usable; :meth:`tick` still works)."""
        self._stop.set()
        timer = self._timer
        if timer is not None and timer is not threading.current_thread():
            timer.join(timeout=5)
        self._timer = None

    @property
    def timer_running(self) -> bool:
        return self._timer is not None and self._timer.is_alive()

    def _run_timer(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.tick()
            except Exception:
                _logger.exception("Job panel update failed")

    def tick(self) -> float:
        """Apply what changed since the last tick and refresh countdowns; return its seconds."""
        started = time.perf_counter()
        with self._ui_lock:
            if self._closed:
                return 0.0
            self._apply()
        spent = time.perf_counter() - started
        self.tick_count += 1
        self.tick_seconds_total += spent
        self.tick_seconds_max = max(self.tick_seconds_max, spent)
        self.last_tick_seconds = spent
        return spent

    refresh = tick

    # --- applying changes (under _ui_lock) --------------------------------------------------

    def _apply(self) -> None:
        with self._state_lock:
            reload, self._reload = self._reload, False
            dirty, self._dirty = self._dirty, set()
            finished, self._finished = self._finished, []
            header_dirty, self._header_dirty = self._header_dirty, False
            detail_dirty, self._detail_dirty = self._detail_dirty, False
        for job_id, scheduled_time in finished:
            progress_registry.finish(job_id, scheduled_time)
        if reload:
            self._load_all()
            dirty = set()
        structure = reload
        # Bounded re-reads: the rest wait for the next tick.
        if len(dirty) > MAX_REFETCH_PER_TICK:
            ordered = sorted(dirty, key=self._visible_first)
            dirty, later = set(ordered[:MAX_REFETCH_PER_TICK]), ordered[MAX_REFETCH_PER_TICK:]
            with self._state_lock:
                self._dirty.update(later)
        now_mono = time.monotonic()
        now = datetime.now(_UTC)
        for job_id in self._visible:  # passed next runs: the scheduler rescheduled silently
            info = self._info.get(job_id)
            if (info is not None and info.next_run_time is not None
                    and info.next_run_time < now
                    and now_mono - info.refreshed > STALE_REFETCH_AFTER):
                dirty.add(job_id)
        for job_id in dirty:
            structure |= self._refetch(job_id)
        if structure or self._visible_changed():
            self._layout_rows()
        running: list[tuple[str, datetime]] = []
        for job_id in self._visible:
            info = self._info.get(job_id)
            if info is not None:
                running.extend((job_id, when) for when in list(info.running))
        if running:
            progress_registry.poll_files(running)
        for job_id in self._visible:
            self._render_row(job_id, now)
        if header_dirty or structure or dirty:
            self._render_header()
        if detail_dirty and self._detail_job is not None:
            self._render_detail()

    def _visible_first(self, job_id: str) -> int:
        return 0 if job_id in self._rows else 1

    def _refetch(self, job_id: str) -> bool:
        """Re-read one job; True when the job list itself changed (added or removed)."""
        job = self._scheduler.get_job(job_id)
        with self._state_lock:
            info = self._info.get(job_id)
            if job is None:
                if info is None:
                    return False
                del self._info[job_id]
                self._order.remove(job_id)
                return True
            added = info is None
            if added:
                info = self._info[job_id] = _JobInfo(job_id)
                self._order.append(job_id)
            self._fill(info, job)
            return added

    def _visible_changed(self) -> bool:
        return self._page_ids() != self._visible

    def _page_ids(self) -> list[str]:
        pages = max(1, -(-len(self._order) // self._page_size))
        self._page = min(self._page, pages - 1)
        start = self._page * self._page_size
        return self._order[start:start + self._page_size]

    def _layout_rows(self) -> None:
        ids = self._page_ids()
        for job_id in [key for key in self._rows if key not in ids]:
            self._rows.pop(job_id).close()
        for job_id in ids:
            if job_id not in self._rows:
                self._rows[job_id] = _Row(self, job_id)
        self._visible = ids
        self._table.children = [self._rows[job_id].box for job_id in ids]
        total = len(self._order)
        if total > self._page_size:
            start = self._page * self._page_size
            self._page_label.value = (f"&nbsp;jobs {start + 1}-{start + len(ids)} "
                                      f"of {total}&nbsp;")
            self._pager.layout.display = "flex"
        else:
            self._pager.layout.display = "none"
        if self._detail_job is not None and self._detail_job not in self._info:
            self._close_detail()

    def _render_row(self, job_id: str, now: datetime) -> None:
        row = self._rows.get(job_id)
        info = self._info.get(job_id)
        if row is None or info is None:
            return
        paused = info.next_run_time is None
        running = bool(info.running)
        title = html.escape(info.name)
        if info.name != job_id:
            title += f" <small style='color:#777'>{html.escape(job_id)}</small>"
        row.set("name", row.name, "value", title)
        row.set("trigger", row.trigger, "value", html.escape(info.trigger_text))
        if paused:
            next_text = "—"
        else:
            seconds = (info.next_run_time - now).total_seconds()
            next_text = (f"{_format_when(info.next_run_time, now)} "
                         f"<small>({format_countdown(seconds)})</small>")
        row.set("next", row.next_run, "value", next_text)
        if info.last_outcome is None:
            last_text = "<span style='color:#777'>never</span>"
        else:
            style = _OUTCOME_STYLE.get(info.last_outcome, "")
            duration = format_duration(info.last_duration)
            last_text = (f"<span style='{style}'>{info.last_outcome}</span>"
                         + (f" <small>{duration}</small>" if duration else ""))
        row.set("last", row.last, "value", last_text)
        row.set("runs", row.runs, "value", str(info.runs))
        row.set("executor", row.executor, "value", html.escape(info.executor))
        if running:
            state = "running"
        elif self._scheduler_paused():
            state = "held" if not paused else "paused"
        else:
            state = "paused" if paused else "scheduled"
        row.set("state", row.state, "value", state)
        row.set("pause", row.buttons["pause"].layout, "display", "none" if paused else "")
        row.set("resume", row.buttons["resume"].layout, "display", "" if paused else "none")
        item = progress_registry.get(job_id) if running else None
        if item is not None:
            row.set("bar", row.bar, "value", round(item.fraction, 3))
            text = item.message or f"{item.fraction:.0%}"
            row.set("bar_text", row.bar_text, "value",
                    f"<small style='white-space:nowrap' title='{html.escape(text)}'>"
                    f"{html.escape(text)}</small>")
        elif running:
            row.set("bar_text", row.bar_text, "value", "<small>running…</small>")
            row.set("bar", row.bar, "value", 0.0)
        row.set("progress", row.progress.layout, "visibility",
                "visible" if running else "hidden")
        if row.confirm_remove_until and time.monotonic() > row.confirm_remove_until:
            row.confirm_remove_until = 0.0
            button = row.buttons["remove"]
            button.description, button.layout.width = "", "34px"

    def _scheduler_paused(self) -> bool:
        from nbsched.schedulers.base import STATE_PAUSED

        return getattr(self._scheduler, "state", None) == STATE_PAUSED

    def _render_header(self) -> None:
        from nbsched.schedulers.base import STATE_PAUSED, STATE_STOPPED

        state = getattr(self._scheduler, "state", None)
        total = len(self._order)
        running = sum(1 for info in self._info.values() if info.running)
        paused = sum(1 for info in self._info.values() if info.next_run_time is None)
        words = {STATE_PAUSED: "scheduler paused", STATE_STOPPED: "scheduler stopped"}
        status = words.get(state, "scheduler running")
        self._summary.value = (f"&nbsp;{total} job{'s' if total != 1 else ''} · "
                               f"{running} running · {paused} paused · {status}&nbsp;")
        self._syncing_pause_all = True
        try:
            self._pause_all.value = state == STATE_PAUSED
        finally:
            self._syncing_pause_all = False

    # --- actions (kernel thread) ------------------------------------------------------------

    def _action_handler(self, action: str, job_id: str) -> Any:
        def handler(_button: Any) -> None:
            if action == "remove" and not self._confirmed_remove(job_id):
                return
            try:
                self.do(action, job_id)
            except Exception as exc:
                self._say(f"{action} {job_id}: {type(exc).__name__}: {exc}", error=True)
        return handler

    def do(self, action: str, job_id: str) -> None:
        """Perform a row action as its button does: pause, resume, run, edit, details, remove.

        ``remove`` from a button asks for a second click; called here it removes at once.
        """
        with self._ui_lock:
            info = self._info.get(job_id)
            if info is None:
                raise KeyError(f"job_id: {job_id!r}: no such job in the panel")
            scheduler = self._scheduler
            store = info.jobstore
            if action == "pause":
                scheduler.pause_job(job_id, store)
                self._say(f"Paused {info.name!r}")
            elif action == "resume":
                job = scheduler.resume_job(job_id, store)
                self._say(f"Resumed {info.name!r}" if job is not None
                          else f"{info.name!r} had no run times left and was removed")
            elif action == "run":
                self._run_now(job_id, store)
                self._say(f"Started {info.name!r} now (its schedule is unchanged)")
            elif action == "remove":
                scheduler.remove_job(job_id, store)
                self._say(f"Removed {info.name!r}")
            elif action == "details":
                self.show_detail(job_id)
            elif action == "edit":
                self.edit_trigger(job_id)
            else:
                raise ValueError(f"action: {action!r}: expected pause, resume, run, edit, "
                                 "details or remove")
            self._apply()

    def _confirmed_remove(self, job_id: str) -> bool:
        """First click on Remove arms it ("Sure?") for 5 s; the second click removes."""
        with self._ui_lock:
            row = self._rows.get(job_id)
            if row is None or row.confirm_remove_until:
                return True
            row.confirm_remove_until = time.monotonic() + 5
            button = row.buttons["remove"]
            button.description, button.layout.width = "Sure?", "70px"
            return False

    def _run_now(self, job_id: str, store: str | None) -> None:
        from nbsched.executors.base import MaxInstancesReachedError

        scheduler = self._scheduler
        job = scheduler.get_job(job_id, store)
        if job is None:
            raise KeyError(f"job_id: {job_id!r}: no such job")
        try:
            run_now(scheduler, job)
        except MaxInstancesReachedError:
            raise RuntimeError(f"{job.name!r} is already running {job.max_instances} "
                               "time(s) (max_instances)") from None

    def _on_pause_all(self, change: dict[str, Any]) -> None:
        if self._syncing_pause_all:
            return
        try:
            if change["new"]:
                self._scheduler.pause()
                self._say("Scheduler paused: no job runs until “Pause all” is switched off")
            else:
                self._scheduler.resume()
                self._say("Scheduler resumed")
        except Exception as exc:
            self._say(f"pause all: {type(exc).__name__}: {exc}", error=True)
        self.tick()

    def _turn(self, step: int) -> None:
        with self._ui_lock:
            pages = max(1, -(-len(self._order) // self._page_size))
            self._page = max(0, min(pages - 1, self._page + step))
            self._apply()

    def _say(self, text: str, error: bool = False) -> None:
        style = "color:#cf222e" if error else "color:#555"
        self._message.value = f"<span style='{style}'>{html.escape(text)}</span>"

    # --- detail view and trigger editor -----------------------------------------------------

    def show_detail(self, job_id: str) -> None:
        """Open the detail view of ``job_id``: recent runs, captured output, last traceback."""
        with self._ui_lock:
            self._detail_job = job_id
            self._render_detail()
            self._detail.layout.display = "flex"

    def _close_detail(self) -> None:
        self._detail_job = None
        self._detail.layout.display = "none"
        old, self._detail.children = self._detail.children, ()
        for widget in old:
            widget.close()

    def _render_detail(self) -> None:
        job_id = self._detail_job
        if job_id is None:
            return
        info = self._info.get(job_id)
        history = self._scheduler.get_run_history(job_id, DETAIL_RUNS)
        rows = []
        for record in history:
            duration = (format_duration((record.end_time - record.start_time).total_seconds())
                        if record.start_time and record.end_time else "")
            style = _OUTCOME_STYLE.get(record.outcome, "")
            note = record.exception or (record.retval_repr if record.outcome == "ok" else "")
            rows.append(
                f"<tr><td>{record.scheduled_time:%Y-%m-%d %H:%M:%S}</td>"
                f"<td style='{style}'>{record.outcome}</td><td>{duration}</td>"
                f"<td><code>{html.escape((note or '')[:120])}</code></td></tr>")
        runs_html = ("<table class='nbsched-history'><tr><th>scheduled</th><th>outcome</th>"
                     "<th>took</th><th>result</th></tr>" + "".join(rows) + "</table>"
                     if rows else "<i>no runs yet</i>")
        entries = self._capture.get_log(job_id, DETAIL_LOG) if self._capture else []
        log_text = "".join(e.text if e.text.endswith("\n") else e.text + "\n"
                           for e in entries if e.stream != "error")
        traceback_text = next((r.traceback for r in history if r.traceback), None)
        if traceback_text is None:
            traceback_text = next((e.text for e in reversed(entries) if e.stream == "error"),
                                  None)
        name = info.name if info is not None else job_id
        parts = [f"<h4 style='margin:4px 0'>{html.escape(name)} "
                 f"<small>({html.escape(job_id)})</small></h4>",
                 "<div><b>Recent runs</b></div>", runs_html, "<div><b>Output</b></div>",
                 (f"<pre class='nbsched-log' style='max-height:200px;overflow:auto'>"
                  f"{html.escape(log_text)}</pre>" if log_text else
                  "<i>no output captured</i>" if self._capture else
                  "<i>output capture is not installed</i>")]
        if traceback_text:
            parts += ["<div><b>Last traceback</b></div>",
                      f"<pre class='nbsched-traceback' style='color:#cf222e;max-height:200px;"
                      f"overflow:auto'>{html.escape(traceback_text)}</pre>"]
        body = "".join(parts)
        if not self._detail.children:
            close = widgets.Button(description="Close", layout=widgets.Layout(width="auto"))
            close.add_class("nbsched-detail-close")
            close.on_click(lambda _: self._locked(self._close_detail))
            self._detail.children = [widgets.HTML(body), close]
        else:
            self._detail.children[0].value = body

    def _locked(self, func: Any) -> None:
        with self._ui_lock:
            func()

    @property
    def detail_html(self) -> str:
        """The detail view's text (empty when closed) — for tests and the curious."""
        if self._detail_job is None or not self._detail.children:
            return ""
        return self._detail.children[0].value

    def edit_trigger(self, job_id: str) -> Any:
        """Open a trigger builder for ``job_id``; its Apply button reschedules the job."""
        from nbsched.notebook.builder import TriggerBuilder

        with self._ui_lock:
            job = self._scheduler.get_job(job_id)
            if job is None:
                raise KeyError(f"job_id: {job_id!r}: no such job")
            self.close_editor()
            editor = TriggerBuilder(self._scheduler, job=job,
                                    on_done=lambda _job: self._locked(self.close_editor))
            self._editor = editor
            self._editor_box.children = [
                widgets.HTML(f"<b>Edit trigger of {html.escape(str(job.name))}</b>"), editor]
            self._editor_box.layout.display = "flex"
            return editor

    def close_editor(self) -> None:
        editor, self._editor = self._editor, None
        old, self._editor_box.children = self._editor_box.children, ()
        self._editor_box.layout.display = "none"
        if editor is not None:
            editor.close()
        for widget in old:
            if widget is not editor:
                widget.close()

    # --- reading state (tests, docs) --------------------------------------------------------

    def row_texts(self, job_id: str) -> dict[str, str]:
        """The visible texts of a job's row (``{}`` when the row is not on the page)."""
        row = self._rows.get(job_id)
        if row is None:
            return {}
        strip = re.compile(r"<[^>]+>")
        texts = {key: html.unescape(strip.sub("", widget.value)) for key, widget in (
            ("name", row.name), ("trigger", row.trigger), ("next_run", row.next_run),
            ("last", row.last), ("runs", row.runs), ("executor", row.executor),
            ("state", row.state), ("progress", row.bar_text))}
        texts["progress_visible"] = row.progress.layout.visibility
        texts["progress_value"] = str(row.bar.value)
        return texts

    def row(self, job_id: str) -> _Row | None:
        return self._rows.get(job_id)

    @property
    def job_ids(self) -> list[str]:
        """All jobs the panel knows, in display order."""
        return list(self._order)

    @property
    def visible_job_ids(self) -> list[str]:
        return list(self._visible)

    # --- life cycle -------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the timer, detach from the scheduler and close every widget."""
        if getattr(self, "_closed", True):
            super().close()
            return
        self._closed = True
        self.stop_timer()
        try:
            self._scheduler.remove_listener(self._on_event)
        except Exception:  # pragma: no cover - scheduler gone
            pass
        if self._capture is not None:
            self._capture.remove_listener(self._on_output)
        with self._ui_lock:
            self.close_editor()
            for row in self._rows.values():
                row.close()
            self._rows.clear()
            for widget in _descendants(self):
                widget.close()
        super().close()

    def __repr__(self) -> str:
        return f"<JobPanel: {len(self._order)} jobs, timer {'on' if self.timer_running else 'off'}>"


def _descendants(root: widgets.Widget) -> Iterable[widgets.Widget]:
    for child in getattr(root, "children", ()):
        yield from _descendants(child)
        yield child


def panel(scheduler: Any = None, **options: Any) -> JobPanel:
    """The live job panel of ``scheduler`` (default: the kernel's, :func:`nbsched.get_scheduler`).

    ``options`` go to :class:`JobPanel` (``page_size``, ``interval``, ``autostart``,
    ``capture``).
    """
    if scheduler is None:
        from nbsched.notebook.kernel import get_scheduler

        scheduler = get_scheduler()
    return JobPanel(scheduler, **options)
