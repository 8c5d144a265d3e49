"""HTML, rich and plain-text renderings of jobs, triggers, schedulers, job lists and history.

Every view is built once as a small table model (:class:`Table`: title, columns, rows of
plain strings) and rendered three ways from it, so the notebook (HTML), a terminal (rich)
and a log file (plain text) always show the same facts. The engine classes stay free of
display code: :func:`register_formatters` teaches IPython to render ``Job``, triggers and
schedulers when the extension loads; :func:`rich_renderable` gives the rich form of any of
them.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

__all__ = [
    "HistoryView",
    "JobListView",
    "OutputLogView",
    "Table",
    "describe_trigger",
    "job_html",
    "job_rich",
    "job_state",
    "job_table",
    "register_formatters",
    "relative_time",
    "rich_renderable",
    "scheduler_html",
    "scheduler_rich",
    "scheduler_table",
    "trigger_html",
    "trigger_rich",
    "trigger_table",
    "unregister_formatters",
    "when_text",
]

_CSS = (
    "<style>"
    ".nbsched-table{border-collapse:collapse;font-size:0.9em;margin:2px 0}"
    ".nbsched-table th,.nbsched-table td{padding:2px 8px;text-align:left;"
    "border-bottom:1px solid rgba(128,128,128,.3);vertical-align:top}"
    ".nbsched-table caption{text-align:left;font-weight:bold;padding:2px 0}"
    ".nbsched-ok{color:#2a7d2a}.nbsched-error{color:#b22}.nbsched-muted{opacity:.7}"
    "</style>"
)
_OUTCOME_CLASS = {"ok": "nbsched-ok", "error": "nbsched-error", "missed": "nbsched-error",
                  "abandoned": "nbsched-error", "max_instances": "nbsched-muted"}
_OUTCOME_RICH = {"ok": "green", "error": "red", "missed": "yellow", "abandoned": "red",
                 "max_instances": "yellow"}


@dataclass
class Table:
    """A titled table of strings, renderable as HTML, rich or plain text."""

    title: str
    columns: Sequence[str]
    rows: list[Sequence[str]] = field(default_factory=list)
    empty: str = "(none)"
    #: optional per-row style key (an outcome such as "ok"/"error") for colouring
    row_styles: list[str | None] = field(default_factory=list)

    def to_html(self) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.columns)
        body = []
        for index, row in enumerate(self.rows):
            style = self.row_styles[index] if index < len(self.row_styles) else None
            css = f' class="{_OUTCOME_CLASS[style]}"' if style in _OUTCOME_CLASS else ""
            cells = "".join(f"<td>{html.escape(str(v))}</td>" for v in row)
            body.append(f"<tr{css}>{cells}</tr>")
        if not body:
            body.append(
                f'<tr><td colspan="{len(self.columns)}" class="nbsched-muted">'
                f"{html.escape(self.empty)}</td></tr>"
            )
        return (
            f'{_CSS}<table class="nbsched-table"><caption>{html.escape(self.title)}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        )

    def to_rich(self) -> Any:
        from rich.table import Table as RichTable

        table = RichTable(title=self.title, title_justify="left", show_lines=False)
        for column in self.columns:
            table.add_column(column, overflow="fold")
        for index, row in enumerate(self.rows):
            style = self.row_styles[index] if index < len(self.row_styles) else None
            table.add_row(*[str(v) for v in row], style=_OUTCOME_RICH.get(style or ""))
        if not self.rows:
            table.caption = self.empty
        return table

    def to_text(self) -> str:
        widths = [len(c) for c in self.columns]
        for row in self.rows:
            for i, value in enumerate(row):
                widths[i] = max(widths[i], len(str(value)))
        lines = [self.title]
        lines.append("  ".join(c.ljust(w) for c, w in zip(self.columns, widths)).rstrip())
        for row in self.rows:
            lines.append("  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip())
        if not self.rows:
            lines.append(self.empty)
        return "\n".join(lines)


class _View:
    """Base of the displayable views: one table model, three renderings."""

    def table(self) -> Table:  # pragma: no cover - abstract
        raise NotImplementedError

    def _repr_html_(self) -> str:
        return self.table().to_html()

    def __rich__(self) -> Any:
        return self.table().to_rich()

    def __repr__(self) -> str:
        return self.table().to_text()


# --- small helpers -------------------------------------------------------------------------


def relative_time(moment: datetime | None, now: datetime | None = None) -> str:
    """``"in 4 s"``, ``"2 min ago"``, ``"in 3 h"`` — how far ``moment`` is from ``now``."""
    if moment is None:
        return "-"
    now = now or datetime.now(timezone.utc)
    delta = (moment - now).total_seconds()
    amount = abs(delta)
    if amount < 1:
        text = f"{amount * 1000:.0f} ms"
    elif amount < 120:
        text = f"{amount:.0f} s"
    elif amount < 7200:
        text = f"{amount / 60:.0f} min"
    elif amount < 172800:
        text = f"{amount / 3600:.0f} h"
    else:
        text = f"{amount / 86400:.0f} days"
    return f"in {text}" if delta >= 0 else f"{text} ago"


def when_text(moment: datetime | None) -> str:
    """``"2026-12-01 09:00:00 (in 3 days)"`` — the time and how far away it is."""
    if moment is None:
        return "-"
    return f"{moment:%Y-%m-%d %H:%M:%S} ({relative_time(moment)})"


def _clock(moment: datetime | None) -> str:
    return "-" if moment is None else f"{moment:%H:%M:%S}.{moment.microsecond // 1000:03d}"


def describe_trigger(trigger: Any) -> str:
    """The trigger's human description, or its ``str`` when it has none."""
    try:
        return trigger.describe()
    except Exception:
        return str(trigger)


def job_state(job: Any) -> str:
    """``"pending"`` (scheduler not started), ``"paused"`` or ``"scheduled"``."""
    if getattr(job, "_jobstore_alias", None) is None:
        return "pending"
    return "paused" if job.next_run_time is None else "scheduled"


def _call_text(job: Any) -> str:
    target = job.func_ref
    if not target or not _by_reference(job.func):
        target = f"{getattr(job.func, '__qualname__', job.func)!s} (by value)"
    if job.func_ref and job.func_ref.startswith("nbsched.notebook.magics:run_cell_source"):
        first = next((ln for ln in str(job.args[0]).splitlines() if ln.strip()), "")
        return f"cell body: {_cut(first, 60)}"
    parts = [_cut(repr(a), 40) for a in job.args]
    parts += [f"{k}={_cut(repr(v), 40)}" for k, v in job.kwargs.items()]
    return f"{target}({', '.join(parts)})"


def _by_reference(func: Any) -> bool:
    from nbsched.serialization import is_by_reference

    try:
        return is_by_reference(func)
    except Exception:
        return False


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _executor_label(alias: str) -> str:
    return {"default": "thread", "process": "process", "asyncio": "asyncio"}.get(alias, alias)


# --- jobs ----------------------------------------------------------------------------------


def job_table(job: Any) -> Table:
    """One job as a two-column table of its fields."""
    rows = [
        ("id", str(job.id)),
        ("call", _call_text(job)),
        ("trigger", describe_trigger(job.trigger)),
        ("state", job_state(job)),
        ("next run", when_text(getattr(job, "next_run_time", None))),
        ("executor", _executor_label(job.executor)),
        ("store", str(job._jobstore_alias or "-")),
    ]
    if hasattr(job, "coalesce"):
        # A pending job (scheduler not started) gets its policy from job_defaults at start.
        rows += [
            ("coalesce", str(job.coalesce)),
            ("misfire grace", "any lateness" if job.misfire_grace_time is None
             else f"{job.misfire_grace_time} s"),
            ("max instances", str(job.max_instances)),
        ]
    return Table(f"Job {job.name}", ("field", "value"), rows)


def job_html(job: Any) -> str:
    return job_table(job).to_html()


def job_rich(job: Any) -> Any:
    return job_table(job).to_rich()


class JobListView(_View):
    """The scheduler's jobs as a table, with each job's latest outcome."""

    def __init__(self, jobs: Sequence[Any], history: Iterable[Any] = (), title: str = "Jobs"):
        self.jobs = list(jobs)
        self.title = title
        self.last: dict[str, Any] = {}
        for record in history:  # newest first: keep the first seen per job
            self.last.setdefault(record.job_id, record)

    def table(self) -> Table:
        rows, styles = [], []
        for job in self.jobs:
            last = self.last.get(job.id)
            last_text = "-" if last is None else f"{last.outcome} {relative_time(_end(last))}"
            rows.append((
                job.id, job.name, describe_trigger(job.trigger), job_state(job),
                when_text(getattr(job, "next_run_time", None)), _executor_label(job.executor),
                str(job._jobstore_alias or "-"), last_text,
            ))
            styles.append(None if last is None else last.outcome)
        columns = ("id", "name", "schedule", "state", "next run", "executor", "store",
                   "last run")
        return Table(f"{self.title} ({len(rows)})", columns, rows,
                     empty="no jobs - add one with %schedule every 10m f()", row_styles=styles)


def _end(record: Any) -> datetime | None:
    return record.end_time or record.start_time or record.scheduled_time


# --- history and output ---------------------------------------------------------------------


class HistoryView(_View):
    """Run records (newest first) as a table."""

    def __init__(self, records: Sequence[Any], title: str = "Run history"):
        self.records = list(records)
        self.title = title

    def table(self) -> Table:
        rows, styles = [], []
        for record in self.records:
            late = "-"
            if record.start_time is not None:
                late = f"{(record.start_time - record.scheduled_time).total_seconds() * 1000:.1f}"
            took = "-"
            if record.start_time is not None and record.end_time is not None:
                took = f"{(record.end_time - record.start_time).total_seconds():.3f}"
            detail = record.exception or record.retval_repr or ""
            rows.append((
                record.job_id, f"{record.scheduled_time:%Y-%m-%d %H:%M:%S}",
                _clock(record.start_time), late, took, record.outcome, _cut(detail, 80),
            ))
            styles.append(record.outcome)
        columns = ("job", "scheduled", "started", "late ms", "took s", "outcome", "result")
        return Table(f"{self.title} ({len(rows)})", columns, rows, empty="no runs yet",
                     row_styles=styles)


class OutputLogView(_View):
    """What a job printed, logged, displayed or raised (from the output capture)."""

    def __init__(self, job_id: str, entries: Sequence[Any] | None, note: str | None = None):
        self.job_id = job_id
        self.entries = list(entries or [])
        self.note = note

    def table(self) -> Table:
        rows, styles = [], []
        for entry in self.entries:
            text = str(getattr(entry, "text", "") or "").rstrip("\n")
            moment = getattr(entry, "time", None)
            stream = getattr(entry, "stream", "")
            rows.append((_clock(moment) if isinstance(moment, datetime) else str(moment or ""),
                         stream, text))
            styles.append("error" if stream in ("error", "stderr") else None)
        return Table(f"Output of {self.job_id} ({len(rows)})", ("time", "stream", "text"), rows,
                     empty=self.note or "no output captured", row_styles=styles)


# --- triggers and schedulers ---------------------------------------------------------------


def trigger_table(trigger: Any, count: int = 5) -> Table:
    """The trigger's description and its next ``count`` fire times."""
    rows = [("description", describe_trigger(trigger)), ("definition", str(trigger))]
    try:
        upcoming = trigger.preview(count)
    except Exception as exc:  # a trigger that cannot preview still shows its definition
        upcoming = []
        rows.append(("next fire times", f"unavailable ({type(exc).__name__})"))
    for index, moment in enumerate(upcoming, 1):
        rows.append((f"fire {index}", when_text(moment)))
    if not upcoming:
        rows.append(("next fire times", "none (the schedule has ended)"))
    return Table(type(trigger).__name__, ("field", "value"), rows)


def trigger_html(trigger: Any) -> str:
    return trigger_table(trigger).to_html()


def trigger_rich(trigger: Any) -> Any:
    return trigger_table(trigger).to_rich()


def scheduler_table(scheduler: Any) -> Table:
    """State, time zone, stores (with job counts) and executors of a scheduler."""
    state = {0: "stopped", 1: "running", 2: "paused"}.get(scheduler.state, str(scheduler.state))
    rows = [("state", state), ("time zone", str(scheduler.timezone))]
    for alias, store in sorted(getattr(scheduler, "_jobstores", {}).items()):
        try:
            count = str(len(store.get_all_jobs())) + " jobs"
        except Exception as exc:
            count = f"unavailable ({type(exc).__name__})"
        rows.append((f"store {alias}", f"{type(store).__name__}: {count}"))
    for alias, executor in sorted(getattr(scheduler, "_executors", {}).items()):
        rows.append((f"executor {alias}", type(executor).__name__))
    return Table(type(scheduler).__name__, ("field", "value"), rows)


def scheduler_html(scheduler: Any) -> str:
    parts = [scheduler_table(scheduler).to_html()]
    if scheduler.running:
        parts.append(JobListView(scheduler.get_jobs())._repr_html_())
    return "".join(parts)


def scheduler_rich(scheduler: Any) -> Any:
    from rich.console import Group

    parts = [scheduler_table(scheduler).to_rich()]
    if scheduler.running:
        parts.append(JobListView(scheduler.get_jobs()).__rich__())
    return Group(*parts)


def rich_renderable(obj: Any) -> Any:
    """The rich rendering of a Job, trigger, scheduler or view (``obj`` itself otherwise)."""
    from nbsched.job import Job
    from nbsched.schedulers.base import BaseScheduler
    from nbsched.triggers.base import BaseTrigger

    if isinstance(obj, Job):
        return job_rich(obj)
    if isinstance(obj, BaseTrigger):
        return trigger_rich(obj)
    if isinstance(obj, BaseScheduler):
        return scheduler_rich(obj)
    if isinstance(obj, _View):
        return obj.__rich__()
    return obj


# --- IPython registration ----------------------------------------------------------------------


def _html_printers() -> list[tuple[type, Any]]:
    from nbsched.job import Job
    from nbsched.schedulers.base import BaseScheduler
    from nbsched.triggers.base import BaseTrigger

    return [(Job, job_html), (BaseTrigger, trigger_html), (BaseScheduler, scheduler_html)]


def register_formatters(shell: Any) -> None:
    """Render Job, trigger and scheduler objects as HTML tables in this shell's output."""
    formatter = shell.display_formatter.formatters["text/html"]
    for cls, printer in _html_printers():
        formatter.for_type(cls, printer)


def unregister_formatters(shell: Any) -> None:
    formatter = shell.display_formatter.formatters["text/html"]
    for cls, printer in _html_printers():
        try:
            if formatter.lookup_by_type(cls) is printer:
                formatter.pop(cls)
        except KeyError:
            pass
