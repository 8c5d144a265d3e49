"""Show what nbsched's triggers do: the next fire times of a few typical schedules.

Run with ``make demo`` (or ``python scripts/demo.py``). Prints one rich table: each
trigger, its plain-English description and its next five fire times from now.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table

from nbsched.triggers.base import BaseTrigger
from nbsched.triggers.calendarinterval import CalendarIntervalTrigger
from nbsched.triggers.combining import AndTrigger, OrTrigger
from nbsched.triggers.cron import CronTrigger
from nbsched.triggers.date import DateTrigger
from nbsched.triggers.interval import IntervalTrigger

ZONE = "Europe/Berlin"


def examples(now: datetime) -> list[tuple[str, BaseTrigger]]:
    """A handful of schedules people actually write."""
    return [
        (
            "cron: business hours",
            CronTrigger(day_of_week="mon-fri", hour="9-17", minute="*/30", timezone=ZONE),
        ),
        ("cron: from_crontab", CronTrigger.from_crontab("15 6 1,15 * 0", timezone=ZONE)),
        ("interval", IntervalTrigger(minutes=90, start_date=now, timezone=ZONE)),
        (
            "calendar interval",
            # Day 31 does not exist every month: those months are skipped.
            CalendarIntervalTrigger(
                months=1, hour=9, minute=30, start_date=f"{now.year}-01-31", timezone=ZONE
            ),
        ),
        ("date", DateTrigger((now + timedelta(days=3)).astimezone(ZoneInfo(ZONE)))),
        (
            "and: weekdays on a 4-hour grid",
            AndTrigger(
                [
                    CronTrigger(day_of_week="mon-fri", minute=0, timezone=ZONE),
                    IntervalTrigger(hours=4, start_date=now.date(), timezone=ZONE),
                ]
            ),
        ),
        (
            "or: noon on the 15th or last day",
            OrTrigger(
                [
                    CronTrigger(day=15, hour=12, timezone=ZONE),
                    CronTrigger(day="last", hour=12, timezone=ZONE),
                ]
            ),
        ),
    ]


def main() -> None:
    began = time.perf_counter()
    now = datetime.now(timezone.utc).astimezone().replace(microsecond=0)
    table = Table(title=f"nbsched triggers: next fire times from {now:%Y-%m-%d %H:%M %Z}")
    table.add_column("trigger", style="bold cyan", no_wrap=True)
    table.add_column("describe()", style="green")
    table.add_column("next 5 fire times", style="white", no_wrap=True)
    for label, trigger in examples(now):
        times = trigger.preview(5, now)
        table.add_row(
            label,
            trigger.describe(),
            "\n".join(t.strftime("%a %Y-%m-%d %H:%M:%S %Z") for t in times) or "(none)",
        )
    console = Console()
    console.width = max(console.width, 132)  # readable when piped, too
    console.print(table)
    console.print(f"[dim]computed in {time.perf_counter() - began:.3f} s[/dim]")


if __name__ == "__main__":
    main()
