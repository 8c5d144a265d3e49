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
from nbsched.store_url import default_store_url
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
    """A scheduler over the store, started paused: jobs are readable, nothing runs."""
    from nbsched.schedulers.background import BackgroundScheduler

    scheduler = BackgroundScheduler(jobstores={"default": store_for_url(url)})
    scheduler.start(paused=True)
    return scheduler


def _jobs_table(scheduler: Any) -> Table:
    table = Table(title="Jobs")
    for column in ("id", "name", "trigger", "next run", "executor"):
        table.add_column(column)
    for job in scheduler.get_jobs():
        next_run = datetime_repr(job.next_run_time) if job.next_run_time else "paused"
        # Text cells: trigger strings such as cron[hour='9'] are not rich markup.
        cells = (job.id, job.name, job.trigger, next_run, job.executor)
        table.add_row(*(Text(str(v)) for v in cells))
    return table


def _quarantine_table(store: Any) -> Table | None:
    records = store.get_quarantined_jobs()
    if not records:
        return None
    table = Table(title="Quarantined records (not run; retry or remove them explicitly)")
    table.add_column("id")
    table.add_column("reason")
    for record in records:
        table.add_row(Text(record.id), Text(record.reason))
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
        table.add_row(*(Text(str(v)) for v in (*cells, last_line)))
    return table


def _run(url: str, verbose: bool, console: Console) -> int:
    from nbsched.schedulers.blocking import BlockingScheduler

    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    scheduler = BlockingScheduler(jobstores={"default": store_for_url(url)})

    def stop(signum: int, frame: Any) -> None:
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    console.print(f"running the jobs of {url} (Ctrl-C to stop)")
    try:
        scheduler.start()
    except KeyboardInterrupt:
        scheduler.shutdown(wait=False)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``nbsched`` console script."""
    args = _parser().parse_args(argv)
    console = Console()
    url = args.store or default_store_url()
    if args.command == "where":
        console.print(url, highlight=False)
        return 0
    if args.command == "run":
        return _run(url, args.verbose, console)
    try:
        scheduler = _open_scheduler(url)
    except Exception as exc:  # a bad URL or unreachable server: one line, not a traceback
        console.print(f"[red]cannot open store {url}: {type(exc).__name__}: {exc}[/red]")
        return 2
    try:
        if args.command == "list":
            console.print(_jobs_table(scheduler))
            quarantined = _quarantine_table(scheduler._lookup_jobstore("default"))
            if quarantined is not None:
                console.print(quarantined)
        elif args.command == "history":
            console.print(_history_table(scheduler.get_run_history(args.job_id, args.limit)))
    finally:
        scheduler.shutdown(wait=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
