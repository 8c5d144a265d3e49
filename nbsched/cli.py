"""The ``nbsched`` command: look into a job store, or run it without a notebook.

``nbsched list`` shows the jobs (and quarantined records) of a store as a table,
``nbsched history`` its recent runs, and ``nbsched run`` runs the store's jobs in the
foreground until Ctrl-C — the same jobs a notebook scheduled, executed headless (for a
server or a cron-less box). The store defaults to the one the notebook layer uses.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from nbsched.jobstores import store_for_url
from nbsched.store_url import default_store_url, mask_url
from nbsched.timezones import datetime_repr

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nbsched", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--store",
        metavar="URL",
        default=None,
        help="store URL (default: $NBSCHED_STORE_URL or the per-user SQLite file)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list the jobs in the store")
    history = commands.add_parser("history", help="show recent runs")
    history.add_argument("job_id", nargs="?", default=None, help="only this job")
    history.add_argument("--limit", type=int, default=20, help="at most this many runs")
    run = commands.add_parser("run", help="run the store's jobs until interrupted")
    run.add_argument("-v", "--verbose", action="store_true", help="log each run")
    commands.add_parser("where", help="print the store URL that would be used")
    return parser


def _open_scheduler(url: str) -> Any:
    """A scheduler over the store opened read-only, started paused: nothing runs, and
    nothing is written — no table created, no record quarantined, no index repaired (a
    reader with the wrong key must not disable the owner's jobs; issue 11, point 1)."""
    from nbsched.schedulers.background import BackgroundScheduler

    scheduler = BackgroundScheduler(jobstores={"default": store_for_url(url, read_only=True)})
    scheduler.start(paused=True)
    return scheduler


_CONTROL = {code: f"\\x{code:02x}" for code in (*range(0x20), 0x7F)}
_CONTROL.update({0x85: "\\x85", 0x2028: "\\u2028", 0x2029: "\\u2029"})
_CONTROL.update({code: f"\\x{code:02x}" for code in range(0x80, 0xA0)})


def _cell(value: Any) -> Text:
    """A table cell showing ``value`` verbatim: no rich markup, and control characters
    (escape sequences in a crafted job id or reason) shown as ``\\x1b``, never sent raw to
    the terminal."""
    return Text(str(value).translate(_CONTROL))


def _fail(console: Console, what: str, exc: BaseException) -> int:
    """One line for an error the user can fix (server down, bad password, bad key); status 2."""
    message = mask_url(str(exc)).splitlines()[0] if str(exc) else ""
    console.print(_cell(f"{what}: {type(exc).__name__}: {message}"), style="red", soft_wrap=True)
    return 2


def _jobs_table(scheduler: Any) -> Table:
    table = Table(title="Jobs")
    for column in ("id", "name", "trigger", "next run", "executor"):
        table.add_column(column)
    for job in scheduler.get_jobs():
        next_run = datetime_repr(job.next_run_time) if job.next_run_time else "paused"
        # Text cells: trigger strings such as cron[hour='9'] are not rich markup.
        cells = (job.id, job.name, job.trigger, next_run, job.executor)
        table.add_row(*(_cell(v) for v in cells))
    return table


def _quarantine_table(store: Any) -> Table | None:
    # A read-only store leaves records it cannot restore as they are; show them the same.
    records = [*store.get_quarantined_jobs(), *getattr(store, "skipped_records", ())]
    if not records:
        return None
    table = Table(
        title="Quarantined or unreadable records (not run; retry or remove them explicitly)"
    )
    table.add_column("id")
    table.add_column("reason")
    for record in records:
        table.add_row(_cell(record.id), _cell(record.reason))
    return table


def _history_table(records: Sequence[Any]) -> Table:
    table = Table(title="Runs (newest first)")
    for column in ("job", "scheduled", "started", "outcome", "result / error"):
        table.add_column(column)
    for record in records:
        detail = record.retval_repr if record.outcome == "ok" else (record.exception or "")
        started = datetime_repr(record.start_time) if record.start_time else "-"
        last_line = detail.splitlines()[-1] if detail else ""
        cells = (record.job_id, datetime_repr(record.scheduled_time), started, record.outcome)
        table.add_row(*(_cell(v) for v in (*cells, last_line)))
    return table


def _run(url: str, verbose: bool, console: Console) -> int:
    from nbsched.schedulers.blocking import BlockingScheduler

    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        scheduler = BlockingScheduler(jobstores={"default": store_for_url(url)})
    except Exception as exc:
        return _fail(console, f"cannot open store {mask_url(url)}", exc)

    def stop(signum: int, frame: Any) -> None:
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    console.print(_cell(f"running the jobs of {mask_url(url)} (Ctrl-C to stop)"))
    try:
        scheduler.start()
    except KeyboardInterrupt:
        if scheduler.running:
            scheduler.shutdown(wait=False)
    except Exception as exc:
        return _fail(console, f"cannot run the jobs of {mask_url(url)}", exc)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``nbsched`` console script."""
    args = _parser().parse_args(argv)
    console = Console()
    url = args.store or default_store_url()
    if args.command == "where":
        console.print(_cell(mask_url(url)), highlight=False)
        return 0
    if args.command == "run":
        return _run(url, args.verbose, console)
    try:
        scheduler = _open_scheduler(url)
    except Exception as exc:  # a bad URL or unreachable server: one line, not a traceback
        return _fail(console, f"cannot open store {mask_url(url)}", exc)
    try:
        if args.command == "list":
            console.print(_jobs_table(scheduler))
            quarantined = _quarantine_table(scheduler._lookup_jobstore("default"))
            if quarantined is not None:
                console.print(quarantined)
        elif args.command == "history":
            console.print(_history_table(scheduler.get_run_history(args.job_id, args.limit)))
    except Exception as exc:  # the server went away, a wrong password, an unusable key
        return _fail(console, f"cannot read store {mask_url(url)}", exc)
    finally:
        try:
            scheduler.shutdown(wait=False)
        except Exception:
            logging.getLogger("nbsched.cli").debug("error closing the store", exc_info=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
