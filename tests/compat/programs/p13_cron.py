"""CronTrigger on its own (keyword and crontab forms, zones, str/repr, successive fire times).
Kept separate from p01 so cron compatibility is checked even while other triggers are missing.
Avoided on purpose (documented nbsched differences, docs/cron.md): wall times inside a DST gap,
repeated wall times in a DST fold, numeric weekdays and day-of-month + day-of-week together in
from_crontab (nbsched follows Vixie cron there)."""

from datetime import datetime
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2031, 3, 28, 22, 47, 5, tzinfo=BERLIN)  # the night before the spring-forward


def fire_times(trigger, count=5):
    previous, now, times = None, NOW, []
    for _ in range(count):
        fire = trigger.get_next_fire_time(previous, now)
        if fire is None:
            break
        times.append(fire.isoformat())
        previous = now = fire
    return times


CASES = {
    "hourly at :30": CronTrigger(minute=30, timezone=BERLIN),
    "weekdays 8-10": CronTrigger(day_of_week="mon-fri", hour="8-10", timezone=BERLIN),
    "every 20 s": CronTrigger(second="*/20", timezone=BERLIN),
    "last sunday": CronTrigger(day="last sun", hour=4, minute=30, timezone=BERLIN),
    "quarterly": CronTrigger(month="1,4,7,10", day=1, hour=6, timezone=BERLIN),
    "bounded": CronTrigger(hour="*/6", start_date="2031-03-29", end_date="2031-03-30 12:00:00",
                           timezone=BERLIN),
    "iso week 14": CronTrigger(week=14, day_of_week="wed", hour=12, timezone=BERLIN),
    "year list": CronTrigger(year="2032,2034", month=2, day=29, timezone=BERLIN),
    "crontab": CronTrigger.from_crontab("15 4 * * sun", timezone=BERLIN),
    "crontab ranges": CronTrigger.from_crontab("0 9-17/2 1-7 * *", timezone=BERLIN),
}

for label, trigger in CASES.items():
    print(label)
    print("   ", trigger)
    print("   ", repr(trigger))
    for fire in fire_times(trigger):
        print("       ", fire)

for bad in [{"hour": 24}, {"minute": "*/0"}, {"day_of_week": "funday"}, {"month": "13"}]:
    try:
        CronTrigger(timezone=BERLIN, **bad)
    except ValueError:
        print("rejected:", bad)
try:
    CronTrigger.from_crontab("* * * *")
except ValueError:
    print("rejected: four crontab fields")
