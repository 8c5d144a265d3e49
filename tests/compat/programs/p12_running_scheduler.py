"""A running BackgroundScheduler in real time: a fast interval job fires on its grid, a job added
while the scheduler sleeps wakes it up, and modify_job(next_run_time=now) runs a job at once.
Only differences between scheduled run times are printed (they are exact), never wall-clock
times; waits are on threading.Events."""

import threading
from datetime import datetime, timedelta, timezone
from itertools import pairwise

from apscheduler.events import EVENT_JOB_EXECUTED
from apscheduler.schedulers.background import BackgroundScheduler

UTC = timezone.utc
scheduler = BackgroundScheduler(timezone="UTC")
runs = {}
lock = threading.Lock()
signals = {"tick": threading.Event(), "soon": threading.Event(), "far": threading.Event()}


def listener(event):
    with lock:
        runs.setdefault(event.job_id, []).append(event.scheduled_run_time)
        if event.job_id != "tick" or len(runs["tick"]) == 3:
            signals[event.job_id].set()


scheduler.add_listener(listener, EVENT_JOB_EXECUTED)
scheduler.start()
# A far-future job keeps the scheduler asleep until something wakes it.
scheduler.add_job(print, "date", run_date=datetime(2049, 1, 1, tzinfo=UTC), args=["far ran"],
                  id="far")
scheduler.add_job(lambda: None, "interval", seconds=0.25, id="tick", coalesce=False,
                  misfire_grace_time=None)  # every grid time runs even on a loaded machine
print("three ticks:", signals["tick"].wait(30))
scheduler.remove_job("tick")
with lock:
    ticks = runs["tick"][:3]
print("tick spacing:", [str(b - a) for a, b in pairwise(ticks)])

scheduler.add_job(print, "date", run_date=datetime.now(UTC) + timedelta(seconds=0.3),
                  args=["soon ran"], id="soon")
print("job added while asleep ran:", signals["soon"].wait(30))
scheduler.modify_job("far", next_run_time=datetime.now(UTC))
print("rescheduled to now ran:", signals["far"].wait(30))
scheduler.shutdown()
print("remaining:", scheduler.get_jobs())
