"""AsyncIOScheduler: start inside a running loop, coroutine and plain jobs, the scheduled_job
decorator, pause/resume of the whole scheduler, and shutdown. Completion is awaited through an
asyncio.Event set from a listener."""

import asyncio
from datetime import datetime, timedelta, timezone

from apscheduler.events import EVENT_JOB_EXECUTED
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.base import STATE_PAUSED, STATE_RUNNING, STATE_STOPPED

UTC = timezone.utc
PAST = datetime(2022, 2, 22, tzinfo=UTC)
FUTURE = datetime(2048, 8, 8, 8, tzinfo=UTC)
STATES = {STATE_STOPPED: "stopped", STATE_RUNNING: "running", STATE_PAUSED: "paused"}

scheduler = AsyncIOScheduler(timezone="UTC")
order = []


@scheduler.scheduled_job("date", run_date=PAST, id="decorated", misfire_grace_time=None)
async def decorated():
    await asyncio.sleep(0)
    order.append("decorated")
    return "from a coroutine"


@scheduler.scheduled_job("cron", hour=8, start_date=FUTURE, id="later", name="later job")
def later():
    return "never during this program"


print("decorator returns the function:", decorated.__name__, later())
print("pending:", [str(job) for job in scheduler.get_jobs()])


async def main():
    done = asyncio.Event()
    retvals = {}

    def listener(event):
        retvals[event.job_id] = event.retval
        if {"decorated", "plain"} <= set(retvals):
            done.set()

    scheduler.add_listener(listener, EVENT_JOB_EXECUTED)
    print("state:", STATES[scheduler.state])
    scheduler.start(paused=True)
    print("state:", STATES[scheduler.state])
    scheduler.add_job(order.append, "date", run_date=PAST + timedelta(seconds=1), args=["plain"],
                      id="plain", misfire_grace_time=None)
    print("scheduled:", [str(job) for job in scheduler.get_jobs()])
    scheduler.resume()
    print("state:", STATES[scheduler.state])
    await asyncio.wait_for(done.wait(), 30)
    print("return values:", sorted(retvals.items(), key=lambda item: item[0]))
    print("ran:", sorted(order))
    scheduler.pause()
    print("state:", STATES[scheduler.state])
    print("left:", [str(job) for job in scheduler.get_jobs()])
    scheduler.shutdown()
    # APScheduler's AsyncIOScheduler.shutdown() is carried out by a loop callback; let the loop
    # turn once so both libraries are observed after the shutdown has taken effect.
    await asyncio.sleep(0)
    print("state:", STATES[scheduler.state])


asyncio.run(main())
