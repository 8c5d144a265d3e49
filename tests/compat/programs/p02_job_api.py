"""The job-management API on a BackgroundScheduler: pending jobs before start, get/modify/
reschedule/pause/resume/remove, and how jobs print. Every date is fixed and in the future, and the
scheduler is started paused, so nothing runs and the output is stable."""

from datetime import datetime, timezone

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

UTC = timezone.utc
START = datetime(2040, 1, 1, 6, 0, tzinfo=UTC)
EARLIER = datetime(2040, 1, 1, 5, 0, tzinfo=UTC)


def greet(name, punctuation="!"):
    return "hello " + name + punctuation


def show(scheduler, title):
    print(title)
    for job in scheduler.get_jobs():
        print("   ", job.id, "|", job, "|", repr(job))


scheduler = BackgroundScheduler(timezone="UTC")
print("running before start:", scheduler.running)

# Pending jobs: added before start, no next run time computed yet.
scheduler.add_job(greet, "interval", hours=2, start_date=START, args=["ann"], id="every2h")
scheduler.add_job(greet, "cron", hour=7, minute=30, start_date=START, kwargs={"name": "bob"},
                  id="daily", name="daily greeting")
scheduler.add_job(greet, "date", run_date=datetime(2040, 2, 1, tzinfo=UTC), args=("cy",),
                  id="once")
scheduler.add_job("math:factorial", IntervalTrigger(minutes=5, start_date=EARLIER), args=(5,),
                  id="textref")
scheduler.add_job(greet, "calendarinterval", weeks=1, hour=9, start_date="2040-01-03",
                  timezone="Europe/London",
                  args=["fay"], id="weekly")
# (The "and"/"or" aliases are left out: APScheduler passes timezone= to the combining triggers,
# which reject it, so add_job(func, "or", triggers=[...]) cannot work there.)
show(scheduler, "pending:")
pending = scheduler.get_job("daily")
print("pending job attributes:", pending.id, pending.name, pending.args, pending.kwargs,
      pending.pending, pending.func_ref, pending.executor)
print("textual reference:", scheduler.get_job("textref").func_ref,
      scheduler.get_job("textref").func(5))

scheduler.start(paused=True)
print("running after start:", scheduler.running)
show(scheduler, "scheduled:")
job = scheduler.get_job("every2h")
print("defaults:", job.misfire_grace_time, job.coalesce, job.max_instances, job.pending)
print("trigger:", job.trigger, "| next:", job.next_run_time.isoformat())

# modify_job and Job.modify
scheduler.modify_job("every2h", name="renamed", args=["dee"], kwargs={"punctuation": "?"},
                     max_instances=3)
job = scheduler.get_job("every2h")
print("modified:", job.name, tuple(job.args), job.kwargs, job.max_instances,
      job.func(*job.args, **job.kwargs))
job.modify(coalesce=False, misfire_grace_time=None)
job = scheduler.get_job("every2h")
print("modified again:", job.coalesce, job.misfire_grace_time)

# reschedule_job with an alias and with an instance
scheduler.reschedule_job("every2h", trigger="cron", day_of_week="sat", hour=12,
                         start_date=START)
print("rescheduled:", scheduler.get_job("every2h"))
scheduler.get_job("daily").reschedule(CronTrigger(month=6, day=1, timezone="UTC",
                                                  start_date=START))
print("rescheduled:", scheduler.get_job("daily"))

# pause and resume
scheduler.pause_job("once")
print("paused:", scheduler.get_job("once"), scheduler.get_job("once").next_run_time)
show(scheduler, "with a paused job (paused sort last):")
scheduler.get_job("once").resume()
print("resumed:", scheduler.get_job("once"))
scheduler.get_job("textref").pause()
print("paused via job:", scheduler.get_job("textref"))
scheduler.resume_job("textref")
print("resumed via scheduler:", scheduler.get_job("textref"))

# next_run_time can be set directly
scheduler.modify_job("once", next_run_time=datetime(2040, 1, 15, tzinfo=UTC))
print("moved:", scheduler.get_job("once"))

# replace_existing keeps one job under the id
scheduler.add_job(greet, "date", run_date=datetime(2041, 1, 1, tzinfo=UTC), args=["eve"],
                  id="once", replace_existing=True)
print("replaced:", scheduler.get_job("once"), scheduler.get_job("once").args)

# remove
scheduler.remove_job("textref")
scheduler.get_job("once").remove()
print("after removals:", sorted(job.id for job in scheduler.get_jobs()))
print("missing job:", scheduler.get_job("textref"))
scheduler.remove_all_jobs()
print("after remove_all_jobs:", scheduler.get_jobs())

scheduler.shutdown()
print("running after shutdown:", scheduler.running)
