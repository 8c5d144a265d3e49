"""Listeners, masks and the event sequence a scheduler publishes. The debug executor runs jobs
inside the scheduler thread, so events arrive in a fixed order; the main thread waits on a
threading.Event set by a listener instead of sleeping."""

import threading
from datetime import datetime, timezone

from apscheduler import events as ev
from apscheduler.executors.debug import DebugExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler

UTC = timezone.utc
PAST = datetime(2020, 1, 1, tzinfo=UTC)
FUTURE = datetime(2050, 1, 1, tzinfo=UTC)

NAMES = {
    getattr(ev, name): name
    for name in dir(ev)
    if name.startswith("EVENT_") and name != "EVENT_ALL" and getattr(ev, name) & ev.EVENT_ALL
    and bin(getattr(ev, name)).count("1") == 1
}

everything = []
job_events = []
errors = []
done = threading.Event()


def record_all(event):
    entry = [NAMES[event.code], type(event).__name__]
    for attr in ("alias", "job_id", "jobstore"):
        if hasattr(event, attr):
            entry.append(f"{attr}={getattr(event, attr)}")
    everything.append(" ".join(entry))


def record_jobs(event):
    detail = ""
    if event.code == ev.EVENT_JOB_EXECUTED:
        detail = f" retval={event.retval!r}"
    elif event.code == ev.EVENT_JOB_ERROR:
        detail = f" exception={event.exception!r} has_traceback={bool(event.traceback)}"
    elif event.code == ev.EVENT_JOB_SUBMITTED:
        detail = f" run_times={[t.isoformat() for t in event.scheduled_run_times]}"
    job_events.append(f"{NAMES[event.code]} {event.job_id}{detail}")
    if event.job_id == "last" and event.code == ev.EVENT_JOB_EXECUTED:
        done.set()


def record_errors(event):
    errors.append((event.job_id, type(event.exception).__name__, str(event.exception)))


def ok(x):
    return x * 2


def fail():
    raise RuntimeError("boom")


scheduler = BackgroundScheduler(timezone="UTC", executors={"default": DebugExecutor()})
scheduler.add_listener(record_all)  # default mask: EVENT_ALL
scheduler.add_listener(record_jobs, ev.EVENT_JOB_EXECUTED | ev.EVENT_JOB_ERROR
                       | ev.EVENT_JOB_SUBMITTED | ev.EVENT_JOB_MISSED)
scheduler.add_listener(record_errors, ev.EVENT_JOB_ERROR)

scheduler.add_job(ok, "date", run_date=FUTURE, args=[1], id="pending-one")
scheduler.start(paused=True)
scheduler.add_jobstore(MemoryJobStore(), "extra")
scheduler.add_executor(DebugExecutor(), "second")
scheduler.add_job(ok, "date", run_date=FUTURE, args=[2], id="in-extra", jobstore="extra")
scheduler.modify_job("in-extra", args=[3], jobstore="extra")
scheduler.remove_job("in-extra")
scheduler.remove_jobstore("extra")
scheduler.remove_executor("second")

# Due jobs, all in the past: one runs, one raises, one is too late, one runs last.
scheduler.add_job(ok, "date", run_date=PAST, args=[21], id="runs", misfire_grace_time=None)
scheduler.add_job(fail, "date", run_date=datetime(2020, 1, 2, tzinfo=UTC), id="raises",
                  misfire_grace_time=None)
scheduler.add_job(ok, "date", run_date=datetime(2020, 1, 3, tzinfo=UTC), args=[0], id="late",
                  misfire_grace_time=1)
scheduler.add_job(ok, "date", run_date=datetime(2020, 1, 4, tzinfo=UTC), args=[50], id="last",
                  misfire_grace_time=None)
scheduler.resume()
print("all due jobs handled:", done.wait(30))
scheduler.pause()
scheduler.remove_all_jobs()
scheduler.remove_listener(record_jobs)
scheduler.shutdown()

# APScheduler publishes EVENT_JOB_SUBMITTED after the submit call returns, which with the debug
# executor is *after* the run finished. That ordering is an accident of its implementation, so
# submissions are checked as a set and everything else in order.
print("every event except submissions, in order:")
for line in everything:
    if not line.startswith("EVENT_JOB_SUBMITTED"):
        print("   ", line)
print("submissions:", sorted(line for line in job_events if line.startswith("EVENT_JOB_SUBMITTED")))
print("job run events, in order:")
for line in job_events:
    if not line.startswith("EVENT_JOB_SUBMITTED"):
        print("   ", line)
print("errors:", errors)
try:
    scheduler.remove_listener(record_jobs)
except ValueError:
    print("removing an unknown listener raises ValueError")
