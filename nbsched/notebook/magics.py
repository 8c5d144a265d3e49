"""``%schedule`` and ``%%schedule``: schedule calls and cells from a notebook.

The magic is a thin client of the public scheduler API: it reads the line
(:mod:`nbsched.notebook.spec`), evaluates the call once in the user's namespace and calls
``add_job`` on the kernel scheduler. Jobs are identified by their *name* — by default the
call text — so re-running a cell replaces its job instead of adding a second one.

A ``%%schedule`` cell is stored as *source text* and run by the by-reference function
:func:`run_cell_source`, so a stored cell job needs no pickled code and, after a kernel
restart, runs in the new kernel's namespace.
"""

from __future__ import annotations

import ast
import sys
import uuid
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from nbsched.notebook import display as views
from nbsched.notebook.spec import (
    CallSpec,
    ParsedLine,
    SpecError,
    build_trigger,
    check_storable,
    evaluate_call,
    parse_line,
)

__all__ = ["EXECUTOR_ALIASES", "ScheduleMagics", "run_cell_source", "run_cell_source_async"]

#: ``--executor`` choices → the kernel scheduler's executor aliases.
EXECUTOR_ALIASES = {"thread": "default", "process": "process", "asyncio": "asyncio"}


# --- running a scheduled cell body -------------------------------------------------------------


def _namespace() -> dict[str, Any]:
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:  # pragma: no cover - IPython is a dependency
        shell = None
    if shell is not None:
        return shell.user_ns
    return vars(sys.modules["__main__"])


def _compile_body(source: str, name: str | None, flags: int = 0) -> tuple[Any, Any]:
    """Compile the body; the last expression is compiled apart so its value is returned."""
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:  # pragma: no cover
        shell = None
    if shell is not None:
        source = shell.transform_cell(source)  # %magics and !commands inside the body
    filename = f"<scheduled cell {name or ''}>".replace(" >", ">")
    tree = ast.parse(source, filename)
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(body=tree.body.pop().value)
    body = compile(tree, filename, "exec", flags=flags)
    tail = compile(last, filename, "eval", flags=flags) if last is not None else None
    return body, tail


def run_cell_source(source: str, name: str | None = None) -> Any:
    """Run a ``%%schedule`` cell body in the user namespace; return its last expression.

    Stored by reference (``nbsched.notebook.magics:run_cell_source``) with the source as its
    argument, so the job carries no pickled code.
    """
    namespace = _namespace()
    body, tail = _compile_body(source, name)
    exec(body, namespace)
    return eval(tail, namespace) if tail is not None else None


async def run_cell_source_async(source: str, name: str | None = None) -> Any:
    """Like :func:`run_cell_source` for bodies with top-level ``await`` (on the kernel loop)."""
    namespace = _namespace()
    body, tail = _compile_body(source, name, ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    result = eval(body, namespace)
    if result is not None and hasattr(result, "__await__"):
        await result
    if tail is None:
        return None
    value = eval(tail, namespace)
    if hasattr(value, "__await__") and tail.co_flags & 0x80:  # CO_COROUTINE: awaited expr
        value = await value
    return value


def _needs_await(source: str, name: str | None) -> bool:
    """Tell whether the body uses top-level ``await`` (raise SpecError if it does not compile)."""
    try:
        _compile_body(source, name)
        return False
    except SyntaxError as plain_error:
        try:
            _compile_body(source, name, ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        except SyntaxError:
            pass
        else:
            return True
        raise SpecError(
            f"the cell body does not compile: {plain_error.msg} (line {plain_error.lineno})"
        ) from None


# --- the magics ----------------------------------------------------------------------------


@magics_class
class ScheduleMagics(Magics):
    """The ``%schedule`` line magic and ``%%schedule`` cell magic."""

    def __init__(self, shell: Any, scheduler: Any, capture: Any = None) -> None:
        super().__init__(shell)
        self._scheduler = scheduler
        self.capture = capture

    @property
    def scheduler(self) -> Any:
        """The kernel scheduler (the current one, should the first have been shut down)."""
        if not self._scheduler.running:
            from nbsched.notebook.kernel import get_scheduler

            self._scheduler = get_scheduler()
        return self._scheduler

    @magic_arguments()
    @argument("--name", help="job name; scheduling the same name again replaces the job "
                             "(default: the call text)")
    @argument("--id", help="job id (default: the name)")
    @argument("--executor", choices=sorted(EXECUTOR_ALIASES),
              help="thread (default), process (CPU-heavy work) or asyncio (coroutines "
                   "go there on their own)")
    @argument("--timezone", help="time zone for the schedule, e.g. Europe/Berlin "
                                 "(default: the scheduler's)")
    @argument("--max-instances", type=int, help="runs of this job allowed at once (default 1)")
    @argument("--coalesce", dest="coalesce", action="store_const", const=True, default=None,
              help="run once when several runs are due (the default)")
    @argument("--no-coalesce", dest="coalesce", action="store_const", const=False,
              help="replay every missed run")
    @argument("--misfire-grace", help="seconds a run may be late and still run, or 'none' "
                                      "for any lateness")
    @argument("--jitter", type=float, help="delay each run by up to this many seconds")
    @argument("--start", help="first possible run (YYYY-MM-DDTHH:MM) for every/cron")
    @argument("--end", help="last possible run (YYYY-MM-DDTHH:MM) for every/cron")
    @argument("--store", default="default",
              help="job store alias: default (persistent) or memory (lost on restart)")
    @argument("--limit", type=int, default=None, help="rows shown by history/log")
    @argument("-h", "--help", action="store_true", help="show this help")
    @argument("words", nargs="*", metavar="WHEN CALL | SUBCOMMAND [JOB]",
              help="WHEN is 'every 10m', 'cron \"*/5 9-17 * * mon-fri\"', "
                   "'at 2026-12-01T09:00' or 'in 30s'; CALL is a Python call such as "
                   "refresh(df, limit=5). Subcommands: list, pause JOB, resume JOB, "
                   "remove JOB, run JOB, history [JOB], log JOB, panel")
    @line_cell_magic
    def schedule(self, line: str, cell: str | None = None) -> Any:
        """Schedule a call (line magic) or the cell body (cell magic), or manage jobs.

        Examples::

            %schedule every 10m refresh(df, limit=5)
            %schedule cron "*/5 9-17 * * mon-fri" check()
            %schedule at 2026-12-01T09:00 send_report()
            %schedule in 30s --name once ping()
            %schedule --executor process every 1h crunch(path)
            %%schedule every 1h --name report
            %schedule                      # list the jobs (same as %schedule list)
            %schedule pause report          # also: resume, remove, run, history, log

        The function and argument values are captured when the magic runs (the function by
        reference when importable, otherwise by value), so the job survives a kernel restart.
        """
        try:
            parsed = parse_line(line, cell=cell is not None)
        except SpecError as exc:
            raise UsageError(str(exc)) from None
        opts = self.schedule.parser.parse_args(parsed.options)
        if opts.help:
            print(self.schedule.parser.format_help())
            return None
        if opts.limit is not None and opts.limit < 1:
            raise UsageError(f"--limit {opts.limit}: must be at least 1")
        try:
            if parsed.subcommand is not None:
                return self._subcommand(parsed, opts)
            return self._add(parsed, opts, cell)
        except SpecError as exc:
            raise UsageError(str(exc)) from None

    # --- adding jobs ---------------------------------------------------------------------

    def _add(self, parsed: ParsedLine, opts: Any, cell: str | None) -> Any:
        from nbsched.executors.base import is_coroutine_callable
        from nbsched.timezones import as_timezone, to_datetime

        scheduler = self.scheduler
        try:
            tz = as_timezone(opts.timezone) if opts.timezone else scheduler.timezone
        except (ValueError, LookupError, TypeError):
            raise SpecError(
                f"--timezone {opts.timezone}: unknown time zone; use an IANA name such as "
                "Europe/Berlin or UTC"
            ) from None
        try:
            start = to_datetime(opts.start, tz, "--start") if opts.start else None
            end = to_datetime(opts.end, tz, "--end") if opts.end else None
        except ValueError as exc:
            raise SpecError(str(exc)) from None
        assert parsed.when is not None
        trigger = build_trigger(parsed.when, tz, start=start, end=end, jitter=opts.jitter)

        if cell is None:
            call = evaluate_call(parsed.call, self.shell.user_ns)
            default_name = call.text
        else:
            name_hint = opts.name
            runner = run_cell_source_async if _needs_await(cell, name_hint) else run_cell_source
            call = CallSpec(text="%%schedule cell", func=runner, args=(cell,),
                            kwargs={"name": name_hint} if name_hint else {})
            first = next((ln.strip() for ln in cell.splitlines() if ln.strip()), "")
            default_name = f"cell: {first[:60]}"

        executor = self._executor(opts.executor, call, cell, is_coroutine_callable(call.func))
        store = opts.store
        if store not in scheduler._jobstores:
            raise SpecError(
                f"--store {store}: no such job store; choose one of "
                f"{', '.join(sorted(scheduler._jobstores))}"
            )
        if store != "memory":
            check_storable(call)

        name = opts.name or default_name
        job_id = self._job_id_for(name, opts.id, store)
        options: dict[str, Any] = {}
        if opts.max_instances is not None:
            if opts.max_instances < 1:
                raise SpecError(f"--max-instances {opts.max_instances}: must be at least 1")
            options["max_instances"] = opts.max_instances
        if opts.coalesce is not None:
            options["coalesce"] = opts.coalesce
        if opts.misfire_grace is not None:
            options["misfire_grace_time"] = _grace(opts.misfire_grace)
        if executor is not None:
            options["executor"] = executor
        try:
            return scheduler.add_job(
                call.func, trigger, args=call.args, kwargs=call.kwargs, id=job_id, name=name,
                jobstore=store, replace_existing=True, **options,
            )
        except (ValueError, TypeError) as exc:
            raise SpecError(f"cannot schedule {_short(call.text)}: {exc}") from None
        except Exception as exc:
            raise SpecError(
                f"cannot store {_short(call.text)} in {store!r}: {type(exc).__name__}: {exc}"
            ) from None

    @staticmethod
    def _executor(choice: str | None, call: CallSpec, cell: str | None,
                  is_coroutine: bool) -> str | None:
        if choice is None:
            return None  # the scheduler sends coroutine functions to asyncio itself
        if cell is not None and choice == "process":
            raise SpecError(
                "--executor process cannot run a %%schedule cell: the body needs the kernel's "
                "namespace; put the work in a function and %schedule it"
            )
        if is_coroutine and choice != "asyncio":
            raise SpecError(
                f"{_short(call.text)} is a coroutine function: use --executor asyncio "
                "(or leave --executor out)"
            )
        return EXECUTOR_ALIASES[choice]

    def _job_id_for(self, name: str, given_id: str | None, store: str) -> str:
        """The id to add under: the given one, the id of the job with this name, or new.

        A job with the same name in another store is removed so the name stays unique.
        """
        scheduler = self.scheduler
        same_name = [job for job in scheduler.get_jobs() if job.name == name]
        if given_id:
            for job in same_name:
                if job.id != given_id or job._jobstore_alias != store:
                    scheduler.remove_job(job.id, job._jobstore_alias)
            return given_id
        keep = None
        for job in same_name:
            if keep is None and job._jobstore_alias == store:
                keep = job.id
            else:
                scheduler.remove_job(job.id, job._jobstore_alias)
        if keep is not None:
            return keep
        if len(name) <= 191 and scheduler.get_job(name) is None:
            return name
        return uuid.uuid4().hex

    # --- subcommands ---------------------------------------------------------------------

    def _subcommand(self, parsed: ParsedLine, opts: Any) -> Any:
        command, targets = parsed.subcommand, parsed.targets
        scheduler = self.scheduler
        if command == "panel":
            from nbsched.notebook.panel import panel

            return panel(scheduler)
        if command == "list":
            if targets:
                raise SpecError(f"%schedule list takes no job, got {' '.join(targets)!r}")
            return views.JobListView(scheduler.get_jobs(), scheduler.get_run_history(limit=1000))
        if command == "history":
            if len(targets) > 1:
                raise SpecError("%schedule history takes at most one job")
            limit = opts.limit or 20
            if not targets:
                return views.HistoryView(scheduler.get_run_history(limit=limit))
            job_id = self._resolve_id(targets[0], allow_gone=True)
            return views.HistoryView(scheduler.get_run_history(job_id, limit),
                                     title=f"Run history of {job_id}")
        if not targets:
            raise SpecError(f"%schedule {command} needs a job id or name, e.g. "
                            f"%schedule {command} report")
        if command == "log":
            if len(targets) > 1:
                raise SpecError("%schedule log takes one job")
            job_id = self._resolve_id(targets[0], allow_gone=True)
            return self._log_view(job_id, opts.limit or 200)
        for target in targets:
            job = self._resolve(target)
            if command == "pause":
                job.pause()
                print(f"Paused {job.name!r} (id {job.id})")
            elif command == "resume":
                job.resume()
                job = self.scheduler.get_job(job.id, job._jobstore_alias) or job
                print(f"Resumed {job.name!r}: next run {views.when_text(job.next_run_time)}")
            elif command == "remove":
                job.remove()
                print(f"Removed {job.name!r} (id {job.id})")
            elif command == "run":
                self._run_now(job)
                print(f"Started {job.name!r} now (its schedule is unchanged)")
        return None

    def _log_view(self, job_id: str, limit: int) -> views.OutputLogView:
        capture = self.capture
        if capture is None:
            return views.OutputLogView(job_id, [], note="no output captured (output capture "
                                                        "is not available)")
        return views.OutputLogView(job_id, capture.get_log(job_id, limit=limit))

    def _run_now(self, job: Any) -> None:
        from nbsched.executors.base import MaxInstancesReachedError
        from nbsched.notebook.run_now import run_now

        try:
            run_now(self.scheduler, job)
        except MaxInstancesReachedError:
            raise SpecError(
                f"{job.name!r} is already running {job.max_instances} time(s) "
                "(--max-instances); try again when it finishes"
            ) from None

    def _resolve(self, target: str) -> Any:
        jobs = self.scheduler.get_jobs()
        for job in jobs:
            if job.id == target:
                return job
        named = [job for job in jobs if job.name == target]
        if len(named) == 1:
            return named[0]
        if named:
            ids = ", ".join(job.id for job in named)
            raise SpecError(f"several jobs are named {target!r} (ids {ids}); use an id")
        raise SpecError(f"no job {target!r}: %schedule list shows the jobs' ids and names")

    def _resolve_id(self, target: str, allow_gone: bool = False) -> str:
        try:
            return self._resolve(target).id
        except SpecError:
            if allow_gone:
                return target  # a removed job still has history and output
            raise


def _grace(value: str) -> float | None:
    if value.strip().lower() in ("none", "any", "inf"):
        return None
    try:
        seconds = float(value)
    except ValueError:
        raise SpecError(
            f"--misfire-grace {value}: expected seconds (e.g. 30) or 'none'"
        ) from None
    if seconds <= 0:
        raise SpecError(f"--misfire-grace {value}: must be more than 0 seconds")
    return int(seconds) if seconds.is_integer() else seconds


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
