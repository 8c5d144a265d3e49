"""export_jobs/import_jobs round trip between two schedulers (memory stores), through a file
and through a text stream. The exported document itself is not printed: its exact layout is
a storage detail. What must survive is every job's id, name, callable, arguments, trigger,
options and next run time."""

import io
import json
import os
import tempfile
from datetime import datetime, timezone

from apscheduler.jobstores.base import ConflictingIdError
from apscheduler.schedulers.background import BackgroundScheduler

UTC = timezone.utc
START = datetime(2042, 2, 2, 2, 2, tzinfo=UTC)


def report(kind, size):
    return f"{kind}:{size}"


def dump(scheduler, title):
    print(title)
    for job in scheduler.get_jobs():
        print("   ", job.id, "|", job, "|", job.func_ref, tuple(job.args), job.kwargs,
              job.misfire_grace_time, job.coalesce, job.max_instances, job.executor)


source = BackgroundScheduler(timezone="UTC")
source.start(paused=True)
source.add_job(report, "interval", days=1, start_date=START, args=["daily", 3], id="a",
               name="daily report", misfire_grace_time=60, coalesce=False)
source.add_job(report, "cron", day_of_week="fri", hour=17, start_date=START,
               kwargs={"kind": "weekly", "size": 10}, id="b", max_instances=2)
source.add_job("math:gcd", "date", run_date=datetime(2042, 12, 24, 18, tzinfo=UTC),
               args=(12, 18), id="c")
source.add_job(report, "interval", minutes=30, start_date=START, args=["paused", 0], id="d")
source.pause_job("d")
dump(source, "source:")

stream = io.StringIO()
source.export_jobs(stream)
document = json.loads(stream.getvalue())
print("export is JSON with", type(document).__name__, "at the top")

target = BackgroundScheduler(timezone="UTC")
target.start(paused=True)
target.import_jobs(io.StringIO(stream.getvalue()))
dump(target, "imported from a stream:")

try:
    target.import_jobs(io.StringIO(stream.getvalue()))
except ConflictingIdError as exc:
    print("importing again:", type(exc).__name__)

with tempfile.TemporaryDirectory() as directory:
    path = os.path.join(directory, "jobs.json")
    source.export_jobs(path)
    fresh = BackgroundScheduler(timezone="UTC")
    fresh.start(paused=True)
    fresh.import_jobs(path)
    dump(fresh, "imported from a file:")
    fresh.shutdown()

print("same jobs:", [j.id for j in source.get_jobs()] == [j.id for j in target.get_jobs()])
print("functions resolve:", target.get_job("c").func(*target.get_job("c").args),
      target.get_job("a").func(*target.get_job("a").args))
source.shutdown()
target.shutdown()
