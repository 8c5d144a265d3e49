"""misfire_grace_time, coalesce and max_instances. The catch-up cases use interval triggers that
start and end in 2020, so the set of missed fire times is fixed however late the program runs."""

import threading
from datetime import datetime, timedelta, timezone

from apscheduler import events as ev
from apscheduler.executors.debug import DebugExecutor
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

UTC = timezone.utc
T0 = datetime(2020, 6, 1, 12, 0, tzinfo=UTC)

calls = []
outcomes = []
finished = threading.Event()
started = threading.Event()
release = threading.Event()
blocked = threading.Event()


def work(tag):
    calls.append(tag)


def slow():
    started.set()
    release.wait(30)
    return "slow done"


def listener(event):
    if event.code == ev.EVENT_JOB_MAX_INSTANCES:
        outcomes.append(f"max_instances {event.job_id}")
        blocked.set()
        return
    if event.code == ev.EVENT_JOB_MISSED:
        outcomes.append(f"missed {event.job_id} {event.scheduled_run_time.isoformat()}")
    elif event.code == ev.EVENT_JOB_EXECUTED:
        outcomes.append(f"executed {event.job_id} {event.scheduled_run_time.isoformat()}")
        if event.job_id == "sentinel":
            finished.set()


def five_seconds(**options):
    return dict(trigger=IntervalTrigger(seconds=1, start_date=T0,
                                        end_date=T0 + timedelta(seconds=4)),
                next_run_time=T0, **options)


scheduler = BackgroundScheduler(timezone="UTC", executors={"default": DebugExecutor(),
                                                           "pool": ThreadPoolExecutor(2)})
scheduler.add_listener(listener, ev.EVENT_JOB_MISSED | ev.EVENT_JOB_EXECUTED
                       | ev.EVENT_JOB_MAX_INSTANCES)
scheduler.start(paused=True)
# Five missed fire times each; which of them run depends on the options.
scheduler.add_job(work, args=["all"], id="all", coalesce=False, misfire_grace_time=None,
                  **five_seconds())
scheduler.add_job(work, args=["coalesced"], id="coalesced", coalesce=True,
                  misfire_grace_time=None, **five_seconds())
scheduler.add_job(work, args=["too-late"], id="too-late", coalesce=False, misfire_grace_time=5,
                  **five_seconds())
scheduler.add_job(work, args=["too-late-coalesced"], id="too-late-coalesced", coalesce=True,
                  misfire_grace_time=5, **five_seconds())
scheduler.add_job(work, "date", run_date=T0 + timedelta(days=1), args=["sentinel"],
                  id="sentinel", misfire_grace_time=None)
scheduler.resume()
print("catch-up finished:", finished.wait(30))
print("calls:", sorted(calls))
print("outcomes (per job, in order):")
for job_id in ["all", "coalesced", "too-late", "too-late-coalesced", "sentinel"]:
    print("   ", job_id, [o.split(" ", 2)[::2] for o in outcomes if o.split(" ")[1] == job_id])
print("finished jobs removed:", scheduler.get_jobs())

# max_instances: a second due run while the first is still going is refused, not queued.
scheduler.add_job(slow, "interval", hours=1, start_date=T0 + timedelta(days=3650),
                  next_run_time=T0, id="slow", executor="pool", max_instances=1,
                  misfire_grace_time=None)
print("slow job started:", started.wait(30))
scheduler.modify_job("slow", next_run_time=T0 + timedelta(seconds=1))
print("second run refused:", blocked.wait(30))
release.set()
scheduler.shutdown(wait=True)
print("max instance events:", [o for o in outcomes if o.startswith("max_instances")])
