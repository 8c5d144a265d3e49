"""Several MemoryJobStores side by side: adding to a named store, listing per store, moving a
job between stores with modify_job(jobstore=...), and removing a store with its jobs."""

from datetime import datetime, timedelta, timezone

from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler

UTC = timezone.utc
BASE = datetime(2046, 6, 6, tzinfo=UTC)


def noop(*args):
    return args


scheduler = BackgroundScheduler(timezone="UTC",
                                jobstores={"default": MemoryJobStore(), "alt": MemoryJobStore()})
scheduler.add_job(noop, "date", run_date=BASE + timedelta(hours=3), id="p1", jobstore="alt")
print("pending in alt:", [job.id for job in scheduler.get_jobs("alt")])
scheduler.start(paused=True)
for index, store in enumerate(["default", "alt", "default", "alt", "default"]):
    scheduler.add_job(noop, "date", run_date=BASE + timedelta(hours=5 - index), args=[index],
                      id=f"j{index}", jobstore=store)
print("all (ordered by next run time):", [job.id for job in scheduler.get_jobs()])
print("default:", [job.id for job in scheduler.get_jobs("default")])
print("alt:", [job.id for job in scheduler.get_jobs("alt")])
print("lookup in the wrong store:", scheduler.get_job("j1", jobstore="default"))
print("lookup in the right store:", scheduler.get_job("j1", jobstore="alt"))
try:
    scheduler.modify_job("j0", jobstore="alt", name="x")
except JobLookupError as exc:
    print("modify in the wrong store:", type(exc).__name__)
scheduler.add_jobstore(MemoryJobStore(), "third")
scheduler.add_job(noop, "interval", days=1, start_date=BASE, id="daily", jobstore="third")
print("third:", [str(job) for job in scheduler.get_jobs("third")])
try:
    scheduler.add_jobstore(MemoryJobStore(), "third")
except ValueError:
    print("adding a store alias twice: ValueError")
scheduler.remove_jobstore("alt")
print("after removing alt:", [job.id for job in scheduler.get_jobs()])
scheduler.remove_all_jobs(jobstore="default")
print("after clearing default:", [job.id for job in scheduler.get_jobs()])
scheduler.shutdown()

store = MemoryJobStore()
print("a fresh store has no next run time:", store.get_next_run_time())
