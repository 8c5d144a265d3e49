"""Configuring a scheduler three ways (keyword options, a dict, flat prefixed keys) and checking
what took effect through the public API only."""

from datetime import datetime, timezone

from apscheduler.executors.debug import DebugExecutor
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler

FUTURE = datetime(2045, 5, 5, 5, 5, tzinfo=timezone.utc)


def noop():
    pass


def describe(label, scheduler):
    scheduler.start(paused=True)
    job = scheduler.add_job(noop, "date", run_date=FUTURE, id="probe")
    print(label)
    print("    timezone:", scheduler.timezone)
    print("    job defaults:", job.misfire_grace_time, job.coalesce, job.max_instances)
    print("    executor:", job.executor, "store:", scheduler.get_job("probe") is not None)
    print("    next run:", job.next_run_time)
    scheduler.shutdown()


describe("plain", BackgroundScheduler(timezone="UTC"))

describe(
    "keywords",
    BackgroundScheduler(
        jobstores={"default": MemoryJobStore()},
        executors={"default": ThreadPoolExecutor(4), "debug": DebugExecutor()},
        job_defaults={"coalesce": False, "max_instances": 3, "misfire_grace_time": 30},
        timezone="Asia/Tokyo",
    ),
)

scheduler = BackgroundScheduler()
scheduler.configure(
    jobstores={"default": {"type": "memory"}},
    executors={"default": {"type": "threadpool", "max_workers": 2}},
    job_defaults={"max_instances": 2},
    timezone="America/New_York",
)
describe("plugin dicts", scheduler)

scheduler = BackgroundScheduler()
scheduler.configure(
    {
        "jobstores.default.type": "memory",
        "executors.default.type": "threadpool",
        "job_defaults.misfire_grace_time": 7,
        "timezone": "America/Chicago",
    },
    prefix="",
)
describe("dotted keys without prefix", scheduler)

scheduler = BackgroundScheduler(timezone="UTC")
scheduler.configure({"timezone": "America/Chicago", "job_defaults": {"max_instances": 9}})
describe("unprefixed dict under the default prefix is ignored", scheduler)

scheduler = BackgroundScheduler()
scheduler.configure(
    {
        "apscheduler.jobstores.default": {"type": "memory"},
        "apscheduler.executors.default": {"type": "threadpool", "max_workers": "5"},
        "apscheduler.executors.other": {"type": "debug"},
        "apscheduler.job_defaults.coalesce": "false",
        "apscheduler.job_defaults.max_instances": "4",
        "apscheduler.job_defaults.misfire_grace_time": "15",
        "apscheduler.timezone": "Europe/Paris",
        "unrelated.key": "ignored",
    }
)
describe("flat prefixed keys", scheduler)

scheduler = BackgroundScheduler()
scheduler.configure(
    {"myapp.timezone": "Australia/Sydney", "myapp.job_defaults.max_instances": 6},
    prefix="myapp.",
)
describe("custom prefix", scheduler)

scheduler = BackgroundScheduler(timezone="UTC")
scheduler.configure(job_defaults={"coalesce": False}, timezone="Europe/Helsinki")
describe("configure keywords override", scheduler)
