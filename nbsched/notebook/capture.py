"""Per-job output capture in a kernel: what a job prints never lands in a random cell.

A Jupyter kernel sends stream output to the front end tagged with the *currently executing*
cell, whatever thread wrote it; so a ``print`` in a pool thread, a ``display()`` from a
coroutine job or a ``logging`` warning from a job shows up under whichever cell happens to
be running (and ``with output_widget:`` from a thread steals that cell's output instead,
ipywidgets #2358). Per-run buffers avoid both traps. While a job run is current
(:func:`nbsched.runcontext.current_run` — set by the executors around the user's call),

* ``sys.stdout``/``sys.stderr`` are proxies that write to the run's job log, and to the
  kernel's own stream otherwise;
* a hook on ``logging.Logger.callHandlers`` files the run's log records in its job log
  (and keeps them out of handlers that print into the kernel's streams — other handlers,
  files for instance, still get them);
* the shell's display publisher files rich displays (``display()``, rich, widgets' reprs);
* the traceback of a failed run (``EVENT_JOB_ERROR``) is filed as well;
* a process-pool run's output, captured in the worker, arrives with its events
  (``event.output``) and is filed on arrival.

Each job log is a bounded deque (``maxlen`` entries), so a chatty job cannot eat the
kernel's memory. Listeners (the panel) get every new entry as it is filed.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections import deque
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from nbsched.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED
from nbsched.runcontext import RunContext, current_run

__all__ = ["STREAMS", "OutputCapture", "OutputEntry", "get_capture", "install_capture"]

#: The kinds of entry a job log holds.
STREAMS = ("stdout", "stderr", "log", "display", "error")
#: Default number of entries kept per job.
DEFAULT_MAXLEN = 500
#: How captured log records are rendered (the stdlib's ``basicConfig`` layout).
LOG_FORMAT = "%(levelname)s:%(name)s:%(message)s"

_UTC = timezone.utc
_RUN_END_EVENTS = EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED
_logger = logging.getLogger("nbsched.notebook.capture")


@dataclass(frozen=True)
class OutputEntry:
    """One piece of a job's output.

    :ivar time: when it was written (aware, UTC)
    :ivar scheduled_time: the fire time of the run that wrote it (None if unknown)
    :ivar stream: ``"stdout"``, ``"stderr"``, ``"log"``, ``"display"`` or ``"error"``
    :ivar text: the text (for a display, its ``text/plain`` form)
    :ivar data: the mime bundle of a display, else None
    """

    time: datetime
    scheduled_time: datetime | None
    stream: str
    text: str
    data: dict[str, Any] | None = None


def _is_engine_logger(name: str) -> bool:
    return name == "nbsched" or name.startswith("nbsched.")


class _RunAwareStream:
    """Stands in for ``sys.stdout``/``sys.stderr``: a job run's writes go to its log.

    Everything else (attributes, ``fileno``, writes outside runs) goes to the stream it
    replaced, so the kernel and the user's cells see no difference.
    """

    def __init__(self, capture: OutputCapture, name: str, original: Any) -> None:
        self._nbsched_capture = capture
        self._nbsched_name = name
        self._nbsched_original = original

    def write(self, text: str) -> int:
        run = current_run()
        capture = self._nbsched_capture
        if run is None or not capture.active:
            return self._nbsched_original.write(text)
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        if not _dispatching_run_record.get():
            capture._write(run, self._nbsched_name, text)
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if current_run() is None or not self._nbsched_capture.active:
            self._nbsched_original.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._nbsched_original, name)

    def __repr__(self) -> str:
        return f"<nbsched run-aware {self._nbsched_name} over {self._nbsched_original!r}>"


class _SkipRunRecords(logging.Filter):
    """Put on handlers that write into the kernel's streams: a run's records are filed."""

    def filter(self, record: logging.LogRecord) -> bool:
        return current_run() is None


class _RunLogHandler(logging.Handler):
    """Files a log record emitted during a run in that run's job log.

    It is not attached to the root logger: a root handler would silently turn
    ``logging.basicConfig()`` in a notebook into a no-op, and ``basicConfig(force=True)`` or
    ``dictConfig`` would silently remove it. :class:`OutputCapture` calls it from a hook on
    ``Logger.callHandlers`` instead, which sees every record that passed its logger's level.
    """

    def __init__(self, capture: OutputCapture) -> None:
        super().__init__()
        self._capture = capture
        self.setFormatter(logging.Formatter(LOG_FORMAT))

    def emit(self, record: logging.LogRecord) -> None:
        run = current_run()
        job_id, when = (run.job_id, run.scheduled_time) if run is not None else (None, None)
        try:
            self._capture._add(job_id, when, "log", self.format(record))
        except Exception:
            self.handleError(record)


def _has_handlers(logger: logging.Logger) -> bool:
    """Would ``logger.callHandlers`` find a handler (else ``logging.lastResort`` fires)?"""
    current: logging.Logger | None = logger
    while current is not None:
        if current.handlers:
            return True
        if not current.propagate:
            return False
        current = current.parent  # type: ignore[assignment]
    return False


#: Set while a run's log record goes through the ordinary handlers: it is already filed, so
#: the stream proxies drop what those handlers (``lastResort`` included) write for it.
_dispatching_run_record: ContextVar[bool] = ContextVar("nbsched_run_record", default=False)


class OutputCapture:
    """Routes job output to per-job logs; see the module docstring.

    Use :func:`install_capture` rather than constructing one: there is one per kernel.

    :param shell: the IPython shell (its ``display_pub`` is hooked); None for none
    :param scheduler: a scheduler whose run-end events are watched (more via :meth:`watch`)
    :param maxlen: entries kept per job
    """

    def __init__(self, shell: Any = None, scheduler: Any = None,
                 maxlen: int = DEFAULT_MAXLEN) -> None:
        if not isinstance(maxlen, int) or isinstance(maxlen, bool) or maxlen < 1:
            raise ValueError(f"maxlen: {maxlen!r}: must be a positive integer")
        self.maxlen = maxlen
        self.active = False
        self._shell = shell
        self._schedulers: list[Any] = []
        self._logs: dict[str | None, deque[OutputEntry]] = {}
        self._partial: dict[tuple[RunContext, str], str] = {}
        self._lock = threading.Lock()
        self._listeners: tuple[Callable[[str | None, OutputEntry], Any], ...] = ()
        self._local = threading.local()
        self._handler = _RunLogHandler(self)
        self._filter = _SkipRunRecords()
        self._filtered: weakref.WeakSet[logging.Handler] = weakref.WeakSet()
        self._streams: dict[str, _RunAwareStream] = {}
        self._display_pub: Any = None
        if scheduler is not None:
            self.watch(scheduler)

    # --- installation -------------------------------------------------------------------------

    def install(self) -> OutputCapture:
        """Put the stream proxies, the log handler and the display hook in place."""
        import sys

        if self.active:
            return self
        self.active = True
        for name in ("stdout", "stderr"):
            current = getattr(sys, name)
            if isinstance(current, _RunAwareStream) and current._nbsched_capture is self:
                proxy = current
            else:
                proxy = _RunAwareStream(self, name, current)
                setattr(sys, name, proxy)
            self._streams[name] = proxy
        self._hook_logging()
        self._adopt_all_handlers()
        self._hook_display()
        if self._shell is not None and hasattr(self._shell, "events"):
            # Something may put its own sys.stdout in place between cells (a kernel restart
            # of the io, another extension); wrap it again before each cell.
            self._shell.events.register("pre_run_cell", self._ensure_streams)
        return self

    def uninstall(self) -> None:
        """Undo :meth:`install`; job output goes back to the kernel's streams."""
        import sys

        global _installed
        if not self.active:
            return
        self.active = False
        for name, proxy in self._streams.items():
            if getattr(sys, name) is proxy:
                setattr(sys, name, proxy._nbsched_original)
            # else: someone wrapped our proxy; it stays, passing everything through.
        self._streams.clear()
        self._unhook_logging()
        for handler in list(self._filtered):
            handler.removeFilter(self._filter)
        self._filtered = weakref.WeakSet()
        self._unhook_display()
        if self._shell is not None and hasattr(self._shell, "events"):
            try:
                self._shell.events.unregister("pre_run_cell", self._ensure_streams)
            except ValueError:
                pass
        for scheduler in self._schedulers:
            scheduler.remove_listener(self._on_event)
        self._schedulers.clear()
        if _installed is self:
            _installed = None

    def watch(self, scheduler: Any) -> None:
        """Also file the run-end output (tracebacks, worker output) of ``scheduler``'s jobs."""
        if any(s is scheduler for s in self._schedulers):
            return
        scheduler.add_listener(self._on_event, _RUN_END_EVENTS)
        self._schedulers.append(scheduler)

    def _ensure_streams(self, *args: Any) -> None:
        import sys

        for name in ("stdout", "stderr"):
            current = getattr(sys, name)
            if isinstance(current, _RunAwareStream):
                continue
            proxy = _RunAwareStream(self, name, current)
            setattr(sys, name, proxy)
            self._streams[name] = proxy

    def _hook_logging(self) -> None:
        original = logging.Logger.callHandlers
        capture = self

        def callHandlers(logger: logging.Logger, record: logging.LogRecord) -> None:
            if not capture.active:
                return original(logger, record)
            run = current_run()
            engine = _is_engine_logger(record.name)
            if run is None:
                if engine and not _has_handlers(logger):
                    # The engine's own note about a job ("job X raised", "run missed") with
                    # logging unconfigured: lastResort would print it into whichever cell is
                    # running. Keep it in the scheduler log instead.
                    capture._handler.handle(record)
                    return None
                return original(logger, record)
            if engine:
                return original(logger, record)  # run bookkeeping; the run's events carry it
            capture._handler.handle(record)
            capture._adopt_handlers(logger)
            token = _dispatching_run_record.set(True)
            try:
                return original(logger, record)
            finally:
                _dispatching_run_record.reset(token)

        callHandlers._nbsched_original = original  # type: ignore[attr-defined]
        logging.Logger.callHandlers = callHandlers  # type: ignore[method-assign]
        self._call_handlers = callHandlers

    def _unhook_logging(self) -> None:
        hook = getattr(self, "_call_handlers", None)
        if hook is not None and logging.Logger.callHandlers is hook:
            logging.Logger.callHandlers = hook._nbsched_original  # type: ignore[method-assign]
        # else: someone hooked on top of ours; ours stays and passes everything through
        self._call_handlers = None

    def _hook_display(self) -> None:
        pub = getattr(self._shell, "display_pub", None)
        if pub is None:
            return
        original_publish = pub.publish
        original_clear = getattr(pub, "clear_output", None)

        def publish(data: Any = None, metadata: Any = None, *args: Any, **kwargs: Any) -> Any:
            run = current_run()
            if run is None or not self.active:
                return original_publish(data, metadata, *args, **kwargs)
            bundle = dict(data or {})
            text = bundle.get("text/plain", "")
            self._add(run.job_id, run.scheduled_time, "display",
                      text if isinstance(text, str) else str(text), bundle)
            return None

        def clear_output(*args: Any, **kwargs: Any) -> Any:
            if current_run() is not None and self.active:
                return None  # a job must not wipe the running cell's output
            return original_clear(*args, **kwargs)

        publish._nbsched_capture = self  # type: ignore[attr-defined]
        pub.publish = publish
        if original_clear is not None:
            pub.clear_output = clear_output
        self._display_pub = pub

    def _unhook_display(self) -> None:
        pub, self._display_pub = self._display_pub, None
        if pub is None:
            return
        for name in ("publish", "clear_output"):
            if name in vars(pub):
                delattr(pub, name)

    def _adopt_all_handlers(self) -> None:
        loggers = [logging.getLogger()]
        loggers += [obj for obj in logging.root.manager.loggerDict.values()
                    if isinstance(obj, logging.Logger)]
        for logger in loggers:
            for handler in logger.handlers:
                self._adopt(handler)

    def _adopt_handlers(self, logger: logging.Logger | None) -> None:
        """Filter run records out of stream handlers on ``logger``'s path that print to a cell."""
        while logger is not None:
            for handler in logger.handlers:
                self._adopt(handler)
            if not logger.propagate:
                break
            logger = logger.parent  # type: ignore[assignment]

    def _adopt(self, handler: logging.Handler) -> None:
        if handler in self._filtered:
            return
        stream = getattr(handler, "stream", None)
        if stream is None:
            return
        # Handlers writing to our proxies are covered by _dispatching_run_record; those that
        # grabbed the kernel's own stream before we were installed need the filter.
        if any(stream is proxy._nbsched_original for proxy in self._streams.values()):
            handler.addFilter(self._filter)
            self._filtered.add(handler)

    # --- filing -------------------------------------------------------------------------------

    def _write(self, run: RunContext, stream: str, text: str) -> None:
        """A run wrote ``text``: file complete lines now, keep a trailing partial line."""
        if not text:
            return
        key = (run, stream)
        with self._lock:
            buffered = self._partial.pop(key, "") + text
            cut = buffered.rfind("\n") + 1
            if cut < len(buffered):
                self._partial[key] = buffered[cut:]
        if cut:
            self._add(run.job_id, run.scheduled_time, stream, buffered[:cut])

    def _flush_run(self, job_id: str, jobstore: str | None, scheduled_time: Any) -> None:
        run = RunContext(job_id, jobstore, scheduled_time)
        for stream in ("stdout", "stderr"):
            with self._lock:
                rest = self._partial.pop((run, stream), None)
            if rest:
                self._add(job_id, scheduled_time, stream, rest)

    def _add(self, job_id: str | None, scheduled_time: datetime | None, stream: str, text: str,
             data: dict[str, Any] | None = None, when: datetime | None = None) -> OutputEntry:
        entry = OutputEntry(when or datetime.now(_UTC), scheduled_time, stream, text, data)
        log = self._logs.get(job_id)
        if log is None:
            with self._lock:
                log = self._logs.setdefault(job_id, deque(maxlen=self.maxlen))
        log.append(entry)
        listeners = self._listeners
        if listeners and not getattr(self._local, "notifying", False):
            self._local.notifying = True  # a listener that prints must not loop back here
            try:
                for callback in listeners:
                    try:
                        callback(job_id, entry)
                    except Exception:
                        _logger.exception("Error in output listener %r", callback)
            finally:
                self._local.notifying = False
        return entry

    def add_entry(self, job_id: str, stream: str, text: str, *,
                  scheduled_time: datetime | None = None,
                  data: dict[str, Any] | None = None) -> OutputEntry:
        """File an entry by hand (for front ends that have output of their own to show)."""
        if not isinstance(job_id, str):
            raise TypeError(f"job_id: expected a str, got {job_id!r}")
        if stream not in STREAMS:
            raise ValueError(f"stream: {stream!r}: must be one of {', '.join(STREAMS)}")
        if not isinstance(text, str):
            raise TypeError(f"text: expected a str, got {type(text).__name__}")
        return self._add(job_id, scheduled_time, stream, text, data)

    def _on_event(self, event: Any) -> None:
        """A run ended: flush its partial lines, file worker output and the traceback."""
        job_id, when = event.job_id, event.scheduled_run_time
        self._flush_run(job_id, event.jobstore, when)
        output = getattr(event, "output", None)
        if output:
            for stamp, stream, text in output:
                written = datetime.fromtimestamp(stamp, _UTC) if stamp is not None else None
                self._add(job_id, when, stream if stream in STREAMS else "stdout",
                          text, None, written)
        if event.code == EVENT_JOB_ERROR:
            text = event.traceback or repr(event.exception)
            self._add(job_id, when, "error", text)

    # --- reading ------------------------------------------------------------------------------

    def get_log(self, job_id: str | None, limit: int | None = 200) -> list[OutputEntry]:
        """The most recent ``limit`` entries of ``job_id``'s log, oldest first.

        ``job_id=None`` gives the scheduler log: the engine's own messages that are not part
        of any run (they are kept here instead of being printed into a cell).
        """
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool)
                                  or limit < 0):
            raise ValueError(f"limit: {limit!r}: must be a non-negative integer or None")
        log = self._logs.get(job_id)
        if not log:
            return []
        while True:
            try:
                entries = list(log)
                break
            except RuntimeError:  # appended to while copying
                continue
        if limit is not None:
            entries = entries[-limit:] if limit else []
        return entries

    def get_text(self, job_id: str | None, limit: int | None = 200) -> str:
        """The log's entries as one text (what ``%schedule log`` prints)."""
        return "".join(
            entry.text if entry.text.endswith("\n") else entry.text + "\n"
            for entry in self.get_log(job_id, limit)
        )

    def job_ids(self) -> list[str]:
        """Jobs that have a log (in the order their first entry arrived)."""
        return [key for key in list(self._logs) if key is not None]

    def clear(self, job_id: str | None = None) -> None:
        """Forget one job's log, or all logs when ``job_id`` is None."""
        with self._lock:
            if job_id is None:
                self._logs.clear()
            else:
                self._logs.pop(job_id, None)

    # --- listeners ----------------------------------------------------------------------------

    def add_listener(self, callback: Callable[[str | None, OutputEntry], Any]) -> None:
        """Call ``callback(job_id, entry)`` for each new entry, from the writing thread."""
        if not callable(callback):
            raise TypeError(f"callback: expected a callable, got {callback!r}")
        with self._lock:
            self._listeners = (*self._listeners, callback)

    def remove_listener(self, callback: Callable[[str | None, OutputEntry], Any]) -> None:
        """Stop calling ``callback`` (no error if it was never added)."""
        with self._lock:
            self._listeners = tuple(cb for cb in self._listeners if cb != callback)

    def __repr__(self) -> str:
        state = "installed" if self.active else "not installed"
        return f"<OutputCapture ({state}, {len(self.job_ids())} job logs)>"


_installed: OutputCapture | None = None
_install_lock = threading.Lock()


def install_capture(shell: Any, scheduler: Any = None,
                    maxlen: int = DEFAULT_MAXLEN) -> OutputCapture:
    """Install output capture for this kernel (idempotent: returns the one installed).

    A second call with another scheduler makes the existing capture watch that one too.
    """
    global _installed
    with _install_lock:
        capture = _installed
        if capture is None or not capture.active:
            capture = OutputCapture(shell, None, maxlen)
            capture.install()
            _installed = capture
        if scheduler is not None:
            capture.watch(scheduler)
        return capture


def get_capture() -> OutputCapture | None:
    """The installed capture, or None."""
    return _installed
