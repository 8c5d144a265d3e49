"""The documented exceptions: ConflictingIdError, JobLookupError, SchedulerAlreadyRunningError,
SchedulerNotRunningError, and bad input to add_job/triggers."""

from datetime import datetime, timezone

from apscheduler.jobstores.base import ConflictingIdError, JobLookupError
from apscheduler.schedulers import SchedulerAlreadyRunningError, SchedulerNotRunningError
from apscheduler.schedulers.background import BackgroundScheduler

FUTURE = datetime(2044, 4, 4, tzinfo=timezone.utc)


def noop():
    pass


def attempt(label, action, *args, **kwargs):
    try:
        action(*args, **kwargs)
    except (ConflictingIdError, JobLookupError) as exc:
        print(f"{label}: {type(exc).__name__}: {exc}")
    except (SchedulerAlreadyRunningError, SchedulerNotRunningError) as exc:
        print(f"{label}: {type(exc).__name__}: {exc}")
    except LookupError as exc:
        # Unknown aliases: only the class matters, wording may differ.
        print(f"{label}: {type(exc).__name__} (LookupError)")
    except (TypeError, ValueError) as exc:
        # Bad input: nbsched words these messages its own way, so only the class is compared.
        print(f"{label}: {type(exc).__name__}")
    else:
        print(f"{label}: no error")


scheduler = BackgroundScheduler(timezone="UTC")
attempt("shutdown before start", scheduler.shutdown)
scheduler.add_job(noop, "date", run_date=FUTURE, id="x")
# (A duplicate id among *pending* jobs only fails at start() in APScheduler; nbsched may refuse it
# earlier, so that case is left out.)
scheduler.start(paused=True)
attempt("start twice", scheduler.start)
attempt("duplicate id", scheduler.add_job, noop, "date", run_date=FUTURE, id="x")
attempt("duplicate id replaced", scheduler.add_job, noop, "date", run_date=FUTURE, id="x",
        replace_existing=True)
attempt("remove missing", scheduler.remove_job, "nope")
attempt("modify missing", scheduler.modify_job, "nope", name="n")
attempt("reschedule missing", scheduler.reschedule_job, "nope", trigger="interval", seconds=5)
attempt("pause missing", scheduler.pause_job, "nope")
attempt("resume missing", scheduler.resume_job, "nope")
attempt("remove with explicit store", scheduler.remove_job, "x", jobstore="default")
attempt("remove again", scheduler.remove_job, "x")
attempt("unknown trigger alias", scheduler.add_job, noop, "sometimes")
attempt("bad interval", scheduler.add_job, noop, "interval", seconds="often")
attempt("bad cron field", scheduler.add_job, noop, "cron", hour="25")
attempt("not callable", scheduler.add_job, 42, "date", run_date=FUTURE)
attempt("bad text reference", scheduler.add_job, "no_colon_here", "date", run_date=FUTURE)
attempt("bad misfire_grace_time", scheduler.add_job, noop, "date", run_date=FUTURE,
        misfire_grace_time=-5)
attempt("bad max_instances", scheduler.add_job, noop, "date", run_date=FUTURE, max_instances=0)
attempt("missing argument", scheduler.add_job, noop, "date", run_date=FUTURE, args=[1])
attempt("remove unknown store", scheduler.remove_jobstore, "nowhere")
attempt("remove unknown executor", scheduler.remove_executor, "nowhere")
scheduler.shutdown()
attempt("shutdown twice", scheduler.shutdown)
print("jobs after everything:", [job.id for job in scheduler.get_jobs()])
