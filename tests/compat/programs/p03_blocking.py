"""BlockingScheduler: start() blocks the main thread until a job shuts the scheduler down.
Jobs chain one another (each run schedules the next for "now"), so the order is fixed."""

from apscheduler.events import EVENT_JOB_EXECUTED, EVENT_SCHEDULER_SHUTDOWN
from apscheduler.schedulers.base import STATE_RUNNING, STATE_STOPPED
from apscheduler.schedulers.blocking import BlockingScheduler

scheduler = BlockingScheduler(timezone="UTC")
seen = []


def step(n):
    print("step", n, "state running:", scheduler.state == STATE_RUNNING)
    if n < 3:
        scheduler.add_job(step, args=[n + 1], id=f"step{n + 1}")
    else:
        scheduler.shutdown(wait=False)
    return n * 10


def listener(event):
    if event.code == EVENT_JOB_EXECUTED:
        seen.append((event.job_id, event.retval))
    else:
        seen.append("shutdown")


scheduler.add_listener(listener, EVENT_JOB_EXECUTED | EVENT_SCHEDULER_SHUTDOWN)
scheduler.add_job(step, args=[1], id="step1")
print("before start:", [job.id for job in scheduler.get_jobs()])
scheduler.start()
print("start returned; stopped:", scheduler.state == STATE_STOPPED)
# The last run's executed event may race the shutdown event, so compare as sets.
print("events:", sorted(map(str, seen)))
print("jobs left:", scheduler.get_jobs())
