"""Trigger construction, fire-time arithmetic and printing (str/repr), all in fixed UTC dates."""

from datetime import datetime, timedelta, timezone

from apscheduler.triggers.calendarinterval import CalendarIntervalTrigger
from apscheduler.triggers.combining import AndTrigger, OrTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

UTC = timezone.utc
NOW = datetime(2031, 3, 14, 15, 9, 26, tzinfo=UTC)


def chain(trigger, count=4, now=NOW):
    """Print the first few fire times a scheduler would compute from ``now``."""
    previous = None
    times = []
    for _ in range(count):
        fire = trigger.get_next_fire_time(previous, now)
        if fire is None:
            break
        times.append(fire.isoformat())
        previous = fire
        now = fire
    print("   ", times)


date = DateTrigger(run_date=datetime(2031, 5, 1, 12, 30, tzinfo=UTC))
interval = IntervalTrigger(minutes=90, start_date=datetime(2031, 3, 14, tzinfo=UTC), timezone="UTC")
bounded = IntervalTrigger(
    seconds=30,
    start_date=datetime(2031, 3, 14, 15, 9, tzinfo=UTC),
    end_date=datetime(2031, 3, 14, 15, 11, tzinfo=UTC),
    timezone="UTC",
)
cron = CronTrigger(day_of_week="mon-fri", hour="9-17/4", minute=15, timezone="UTC")
cron_text = CronTrigger.from_crontab("*/20 6 1,15 * *", timezone="UTC")
cron_last = CronTrigger(day="last", hour=23, timezone="UTC")
cron_nth = CronTrigger(day="2nd wed", month="*/3", timezone="UTC")
calendar = CalendarIntervalTrigger(
    months=1, hour=8, minute=5, start_date="2031-03-31", timezone="Europe/Helsinki"
)
both = AndTrigger([
    CronTrigger(day_of_week="mon-fri", hour="*/6", timezone="UTC"),
    IntervalTrigger(hours=4, start_date="2031-03-14 00:00:00", timezone="UTC"),
])
either = OrTrigger([cron_last, CronTrigger(day=15, hour=12, timezone="UTC")])

for label, trigger in [
    ("date", date),
    ("interval", interval),
    ("bounded", bounded),
    ("cron", cron),
    ("cron_text", cron_text),
    ("cron_last", cron_last),
    ("cron_nth", cron_nth),
    ("calendar", calendar),
    ("and", both),
    ("or", either),
]:
    print(label)
    print("    str:", str(trigger))
    print("    repr:", repr(trigger))
    # AndTrigger only gets one step: APScheduler's version can loop forever when asked for a
    # fire time after one of its members' fire times, so the chain would never finish there.
    chain(trigger, count=1 if label == "and" else 4)

print("interval in weeks:", IntervalTrigger(weeks=2, start_date=NOW).interval == timedelta(days=14))
print("date with zone:", DateTrigger("2031-06-01 08:00:00", timezone="Europe/Helsinki").run_date)
