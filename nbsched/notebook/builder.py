"""The trigger builder: compose a trigger with form fields, see when it fires, create the job.

``nbsched.trigger_builder()`` returns a :class:`TriggerBuilder` (an ipywidgets 8 ``VBox``):
pick *date*, *interval*, *cron* or *calendar interval*, fill in the fields, and the builder
constructs the real trigger on every change. The trigger's own ``ValueError``/``TypeError``
text is the validation message — shown next to the field it names (the triggers start
their messages with the argument name) — so the form never disagrees with the API. A valid
trigger shows its plain-English ``describe()`` and its next five fire times
(``preview(5)``) in the chosen time zone. Pick a function from the notebook's namespace and
press *Create job*; the same widget with ``job=`` given is the panel's trigger editor
(*Apply* reschedules that job).
"""

from __future__ import annotations

import html
import inspect
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import ipywidgets as widgets

from nbsched.timezones import as_timezone, local_timezone, timezone_name

__all__ = ["KINDS", "TriggerBuilder", "build_trigger", "namespace_callables", "trigger_builder"]

_logger = logging.getLogger("nbsched.notebook.builder")

#: Trigger kinds offered, in order: (label, alias).
KINDS = (("date", "date"), ("interval", "interval"), ("cron", "cron"),
         ("calendar interval", "calendarinterval"))

# Fields per kind: (name, label, widget kind, placeholder). "text" fields are passed as
# strings; "number" fields as numbers (empty means 0 / not given).
_FIELDS: dict[str, tuple[tuple[str, str, str, str], ...]] = {
    "date": (("run_date", "run at", "text", "2030-01-01 09:00:00"),),
    "interval": (
        ("weeks", "weeks", "number", ""), ("days", "days", "number", ""),
        ("hours", "hours", "number", ""), ("minutes", "minutes", "number", ""),
        ("seconds", "seconds", "number", ""),
        ("start_date", "start", "text", "optional"), ("end_date", "end", "text", "optional"),
        ("jitter", "jitter (s)", "number", ""),
    ),
    "cron": (
        ("crontab", "crontab line", "text", "*/5 * * * *  (overrides the fields below)"),
        ("second", "second", "text", "0"), ("minute", "minute", "text", "*"),
        ("hour", "hour", "text", "*"), ("day", "day", "text", "*"),
        ("month", "month", "text", "*"), ("day_of_week", "day of week", "text", "*"),
        ("week", "ISO week", "text", "*"), ("year", "year", "text", "*"),
        ("start_date", "start", "text", "optional"), ("end_date", "end", "text", "optional"),
    ),
    "calendarinterval": (
        ("years", "years", "int", ""), ("months", "months", "int", ""),
        ("weeks", "weeks", "int", ""), ("days", "days", "int", ""),
        ("hour", "at hour", "int", ""), ("minute", "minute", "int", ""),
        ("second", "second", "int", ""),
        ("start_date", "start", "text", "optional"), ("end_date", "end", "text", "optional"),
    ),
}

_EXCLUDED_NAMES = {"exit", "quit", "get_ipython", "open", "display", "help"}


def build_trigger(kind: str, values: Mapping[str, Any], tz: str | None) -> Any:
    """Build the trigger of ``kind`` from form ``values`` (blank entries left out).

    :raises ValueError: for an unknown ``kind`` or anything the trigger refuses
    :raises TypeError: for values of the wrong type (the trigger's own message)
    """
    from nbsched.triggers.calendarinterval import CalendarIntervalTrigger
    from nbsched.triggers.cron import CronTrigger
    from nbsched.triggers.date import DateTrigger
    from nbsched.triggers.interval import IntervalTrigger

    given = {name: value for name, value in values.items()
             if value is not None and not (isinstance(value, str) and not value.strip())}
    given = {name: value.strip() if isinstance(value, str) else value
             for name, value in given.items()}
    zone = as_timezone(tz) if tz else None
    if kind == "date":
        if "run_date" not in given:
            raise ValueError("run_date: enter a date and time, e.g. 2030-01-01 09:00:00")
        return DateTrigger(run_date=given["run_date"], timezone=zone)
    if kind == "interval":
        numbers = {name: given.get(name, 0) for name in
                   ("weeks", "days", "hours", "minutes", "seconds")}
        if not any(numbers.values()):
            raise ValueError("seconds: enter a length, e.g. 30 seconds or 5 minutes")
        return IntervalTrigger(**numbers, start_date=given.get("start_date"),
                               end_date=given.get("end_date"), timezone=zone,
                               jitter=given.get("jitter") or None)
    if kind == "cron":
        line = given.pop("crontab", None)
        if line:
            return CronTrigger.from_crontab(line, timezone=zone)
        fields = {name: given[name] for name in
                  ("year", "month", "day", "week", "day_of_week", "hour", "minute", "second")
                  if name in given}
        if not fields:
            raise ValueError("crontab: enter a crontab line (e.g. */5 * * * *) or some fields")
        return CronTrigger(**fields, start_date=given.get("start_date"),
                           end_date=given.get("end_date"), timezone=zone)
    if kind == "calendarinterval":
        counts = {name: int(given.get(name, 0)) for name in
                  ("years", "months", "weeks", "days", "hour", "minute", "second")}
        return CalendarIntervalTrigger(**counts, start_date=given.get("start_date"),
                                       end_date=given.get("end_date"), timezone=zone)
    raise ValueError(f"kind: {kind!r}: expected one of {', '.join(a for _, a in KINDS)}")


def namespace_callables(namespace: Mapping[str, Any]) -> dict[str, Callable[..., Any]]:
    """The user's functions in ``namespace`` (IPython's ``user_ns``), by name, sorted.

    Functions, coroutine functions, builtins and partials count; classes, modules,
    private names (``_x``) and IPython's own helpers do not.
    """
    import functools

    found = {}
    for name, value in list(namespace.items()):
        if name.startswith("_") or name in _EXCLUDED_NAMES:
            continue
        if inspect.isfunction(value) or inspect.isbuiltin(value) \
                or isinstance(value, functools.partial) or inspect.ismethod(value):
            found[name] = value
    return dict(sorted(found.items()))


def _user_namespace() -> Mapping[str, Any]:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return {}
    shell = get_ipython()
    return shell.user_ns if shell is not None else {}


def _field_value(trigger: Any, kind: str) -> dict[str, Any]:
    """Form values that describe an existing ``trigger`` (for the panel's editor)."""
    values: dict[str, Any] = {}
    if kind == "date":
        values["run_date"] = trigger.run_date.strftime("%Y-%m-%d %H:%M:%S")
    elif kind == "interval":
        total = trigger.interval.total_seconds()
        for name, size in (("weeks", 604800), ("days", 86400), ("hours", 3600),
                           ("minutes", 60)):
            if total >= size and total % size == 0:
                values[name] = total // size
                return values
        values["seconds"] = total
    elif kind == "cron":
        for cron_field in trigger.fields:
            if not cron_field.is_default:
                values[cron_field.name] = str(cron_field)
    elif kind == "calendarinterval":
        for name in ("years", "months", "weeks", "days", "hour", "minute", "second"):
            values[name] = getattr(trigger, name, 0)
    return values


def _kind_of(trigger: Any) -> str | None:
    return {"DateTrigger": "date", "IntervalTrigger": "interval", "CronTrigger": "cron",
            "CalendarIntervalTrigger": "calendarinterval"}.get(type(trigger).__name__)


class TriggerBuilder(widgets.VBox):
    """The form; see the module docstring. Build it with :func:`trigger_builder`.

    :param scheduler: where the job is created (default: the kernel's scheduler)
    :param namespace: where functions are picked from (default: IPython's ``user_ns``)
    :param job: edit this job's trigger instead of creating a job
    :param on_done: called with the created/rescheduled job
    """

    def __init__(self, scheduler: Any = None, *, namespace: Mapping[str, Any] | None = None,
                 job: Any = None, on_done: Callable[[Any], Any] | None = None) -> None:
        super().__init__()
        self.add_class("nbsched-builder")
        self._scheduler = scheduler
        self._namespace = namespace
        self._edit_job = job
        self._on_done = on_done
        self.trigger: Any = None
        self.error: str | None = None
        self.last_job: Any = None
        self._ready = False  # observers stay quiet while the form is being built

        self.kind = widgets.ToggleButtons(options=list(KINDS), value="interval",
                                          description="Trigger")
        self.kind.add_class("nbsched-builder-kind")
        tz_name = timezone_name(getattr(scheduler, "timezone", None) or local_timezone())
        self.timezone = widgets.Text(value=tz_name, description="Time zone",
                                     placeholder="Europe/Berlin")
        self._tz_message = widgets.HTML()
        self.fields: dict[str, dict[str, widgets.Widget]] = {}
        self._messages: dict[str, dict[str, widgets.HTML]] = {}
        self._field_boxes: dict[str, widgets.VBox] = {}
        for kind, specs in _FIELDS.items():
            inputs: dict[str, widgets.Widget] = {}
            messages: dict[str, widgets.HTML] = {}
            lines = []
            for name, label, widget_kind, placeholder in specs:
                if widget_kind == "text":
                    field = widgets.Text(description=label, placeholder=placeholder)
                elif widget_kind == "int":
                    field = widgets.IntText(description=label, value=0)
                else:
                    field = widgets.FloatText(description=label, value=0)
                field.style.description_width = "110px"
                field.add_class(f"nbsched-builder-{kind}-{name}")
                field.observe(self._changed, names="value")
                message = widgets.HTML()
                message.add_class(f"nbsched-builder-message-{name}")
                inputs[name] = field
                messages[name] = message
                lines.append(widgets.HBox([field, message]))
            self.fields[kind] = inputs
            self._messages[kind] = messages
            self._field_boxes[kind] = widgets.VBox(lines)
        self.fields["interval"]["minutes"].value = 5
        self._fields_area = widgets.VBox([])
        self.message = widgets.HTML()
        self.message.add_class("nbsched-builder-error")
        self.description = widgets.HTML()
        self.description.add_class("nbsched-builder-description")
        self.preview = widgets.HTML()
        self.preview.add_class("nbsched-builder-preview")

        self.function = widgets.Dropdown(description="Function", options=[])
        self.function.add_class("nbsched-builder-function")
        self._reload_button = widgets.Button(description="↻", tooltip="Re-read the notebook's "
                                             "functions", layout=widgets.Layout(width="36px"))
        self._reload_button.on_click(lambda _: self.reload_functions())
        self.job_id = widgets.Text(description="Job id", placeholder="optional")
        self.job_name = widgets.Text(description="Name", placeholder="optional")
        self.executor = widgets.Dropdown(description="Executor",
                                         options=self._aliases("_executors", "default"))
        self.jobstore = widgets.Dropdown(description="Job store",
                                         options=self._aliases("_jobstores", "default"))
        self.replace = widgets.Checkbox(description="replace a job with the same id",
                                        value=False)
        self.create = widgets.Button(description="Apply" if job is not None else "Create job",
                                     button_style="primary", icon="check")
        self.create.add_class("nbsched-builder-create")
        self.create.on_click(lambda _: self._submit())
        self.result = widgets.HTML()
        self.result.add_class("nbsched-builder-result")
        self.timezone.observe(self._changed, names="value")
        self.kind.observe(self._kind_changed, names="value")
        self.function.observe(self._changed, names="value")

        job_part: list[widgets.Widget] = []
        if job is None:
            job_part = [widgets.HBox([self.function, self._reload_button]), self.job_id,
                        self.job_name, self.executor, self.jobstore, self.replace]
        self.children = [self.kind, widgets.HBox([self.timezone, self._tz_message]),
                         self._fields_area, self.message, self.description, self.preview,
                         *job_part, self.create, self.result]
        if job is not None:
            self._load_job(job)
        else:
            self.reload_functions()
        self._ready = True
        self._kind_changed({"new": self.kind.value})

    # --- helpers ----------------------------------------------------------------------------

    def _aliases(self, attr: str, default: str) -> list[str]:
        found = list(getattr(self._scheduler, attr, {}) or {})
        if default in found:
            found.remove(default)
        return [default, *found]

    def _load_job(self, job: Any) -> None:
        kind = _kind_of(job.trigger)
        tz = getattr(job.trigger, "timezone", None)
        if tz is not None:
            self.timezone.value = timezone_name(tz)
        if kind is None:
            return
        self.kind.value = kind
        for name, value in _field_value(job.trigger, kind).items():
            field = self.fields[kind].get(name)
            if field is not None:
                field.value = value if not isinstance(field, widgets.Text) else str(value)

    def reload_functions(self) -> None:
        """Re-read the functions of the namespace into the picker (keeps the choice)."""
        namespace = self._namespace if self._namespace is not None else _user_namespace()
        found = namespace_callables(namespace)
        chosen = self.function.value
        self._callables = found
        self.function.options = [(name, name) for name in found]
        if chosen in found:
            self.function.value = chosen
        elif found:
            self.function.value = next(iter(found))
        self._changed()

    def values(self) -> dict[str, Any]:
        """The current field values of the chosen kind."""
        return {name: field.value for name, field in self.fields[self.kind.value].items()}

    # --- validation -------------------------------------------------------------------------

    def _kind_changed(self, change: dict[str, Any]) -> None:
        self._fields_area.children = [self._field_boxes[change["new"]]]
        self._changed()

    def _changed(self, change: Any = None) -> None:
        if self._ready:
            self.validate()

    def validate(self) -> Any:
        """Build the trigger from the form; show its message, description and preview.

        Returns the trigger, or None when the form is invalid (``self.error`` says why).
        """
        kind = self.kind.value
        for message in self._messages[kind].values():
            message.value = ""
        self._tz_message.value = ""
        self.message.value = ""
        self.trigger = None
        self.error = None
        tz_text = self.timezone.value.strip()
        try:
            zone = as_timezone(tz_text) if tz_text else local_timezone()
            trigger = build_trigger(kind, self.values(), tz_text or None)
        except (ValueError, TypeError, LookupError) as exc:
            self._show_error(kind, exc)
            return None
        self.trigger = trigger
        try:
            description = trigger.describe()
        except Exception as exc:  # pragma: no cover - a trigger bug, shown not raised
            description = f"(no description: {exc})"
        self.description.value = f"<b>Runs</b> {html.escape(description)}"
        now = datetime.now(zone)
        times = trigger.preview(5, now)
        if times:
            items = "".join(f"<li>{t.astimezone(zone):%a %Y-%m-%d %H:%M:%S %Z}</li>"
                            for t in times)
            self.preview.value = (f"<b>Next {len(times)} fire times</b> "
                                  f"({html.escape(timezone_name(zone))})<ol>{items}</ol>")
        else:
            self.preview.value = "<b>Never fires again</b> from now"
        self._update_button()
        return trigger

    def _show_error(self, kind: str, exc: BaseException) -> None:
        text = str(exc) or type(exc).__name__
        self.error = text
        self.description.value = ""
        self.preview.value = ""
        styled = f"<span style='color:#cf222e'>{html.escape(text)}</span>"
        name = text.split(":", 1)[0].strip() if ":" in text else ""
        slot = self._messages[kind].get(name)
        if slot is not None:
            slot.value = styled
        elif name in ("timezone", "tz") or (isinstance(exc, LookupError) and \
                "zone" in text.lower()):
            self._tz_message.value = styled
        else:
            self.message.value = styled
        self._update_button()

    def _update_button(self) -> None:
        needs_function = self._edit_job is None
        self.create.disabled = self.trigger is None or (
            needs_function and not self.function.value)

    # --- creating ---------------------------------------------------------------------------

    def _submit(self) -> None:
        try:
            job = self.submit()
        except Exception as exc:
            self.result.value = (f"<span style='color:#cf222e'>{html.escape(type(exc).__name__)}"
                                 f": {html.escape(str(exc))}</span>")
            return
        when = job.next_run_time
        self.result.value = (f"<span style='color:#1a7f37'>"
                             f"{'Rescheduled' if self._edit_job is not None else 'Created'} "
                             f"job {html.escape(str(job.name))} (id {html.escape(job.id)}); "
                             f"next run {when:%Y-%m-%d %H:%M:%S %Z}</span>"
                             if when else f"job {html.escape(job.id)} saved (paused)")

    def submit(self) -> Any:
        """Create the job (or reschedule the edited one) from the form; return the job.

        :raises ValueError: if the form is invalid or no function is chosen
        """
        trigger = self.validate()
        if trigger is None:
            raise ValueError(self.error or "the trigger is not valid")
        scheduler = self._scheduler
        if scheduler is None:
            from nbsched.notebook.kernel import get_scheduler

            scheduler = self._scheduler = get_scheduler()
        if self._edit_job is not None:
            job = self._edit_job
            job = scheduler.reschedule_job(job.id, job._jobstore_alias, trigger=trigger)
        else:
            name = self.function.value
            if not name:
                raise ValueError("function: choose a function from the notebook")
            func = self._callables[name]
            options: dict[str, Any] = {"executor": self.executor.value,
                                       "jobstore": self.jobstore.value,
                                       "replace_existing": self.replace.value}
            if self.job_id.value.strip():
                options["id"] = self.job_id.value.strip()
            if self.job_name.value.strip():
                options["name"] = self.job_name.value.strip()
            job = scheduler.add_job(func, trigger, **options)
        self.last_job = job
        if self._on_done is not None:
            self._on_done(job)
        return job


def trigger_builder(scheduler: Any = None, *, namespace: Mapping[str, Any] | None = None
                    ) -> TriggerBuilder:
    """A trigger builder widget that creates jobs on ``scheduler`` (default: the kernel's,
    :func:`nbsched.get_scheduler`, whose executors and stores the form offers)."""
    if scheduler is None:
        from nbsched.notebook.kernel import get_scheduler

        scheduler = get_scheduler()
    return TriggerBuilder(scheduler, namespace=namespace)
