"""Each executor type runs a job and reports its return value: debug, thread pool, process pool
(importable functions only, given as objects and as "module:function" text) and asyncio.
The process pool spawns fresh interpreters, so everything runs under the __main__ guard."""

import asyncio
import math
import operator
import threading
from datetime import datetime, timezone

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED
from apscheduler.executors.asyncio import AsyncIOExecutor
from apscheduler.executors.debug import DebugExecutor
from apscheduler.executors.pool import ProcessPoolExecutor, ThreadPoolExecutor
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.background import BackgroundScheduler

PAST = datetime(2021, 1, 1, tzinfo=timezone.utc)
results = {}
lock = threading.Lock()
all_done = threading.Event()
EXPECTED = {"debug", "threads", "threads-text", "processes", "processes-text", "process-error"}


def on_event(event):
    with lock:
        if event.code == EVENT_JOB_EXECUTED:
            results[event.job_id] = repr(event.retval)
        else:
            results[event.job_id] = f"error {type(event.exception).__name__}"
        if set(results) >= EXPECTED:
            all_done.set()


def thread_name_kind():
    return "main thread" if threading.current_thread() is threading.main_thread() else "worker"


async def coroutine_job(x):
    await asyncio.sleep(0)
    return x + 1


async def asyncio_part(common):
    loop_results = {}
    done = asyncio.Event()
    asyncio_scheduler = AsyncIOScheduler(timezone="UTC", executors={"default": AsyncIOExecutor()})

    def listener(event):
        loop_results[event.job_id] = event.retval
        if len(loop_results) == 2:
            done.set()

    asyncio_scheduler.add_listener(listener, EVENT_JOB_EXECUTED)
    asyncio_scheduler.add_job(coroutine_job, args=[1], id="coroutine", **common)
    asyncio_scheduler.add_job(operator.neg, args=[5], id="plain", **common)
    asyncio_scheduler.start()
    await asyncio.wait_for(done.wait(), 30)
    asyncio_scheduler.shutdown()
    print("asyncio executor:", sorted(loop_results.items()))



def threads_and_processes():
    scheduler = BackgroundScheduler(
        timezone="UTC",
        executors={
            "default": ThreadPoolExecutor(3),
            "debug": DebugExecutor(),
            "processes": ProcessPoolExecutor(2),
        },
    )
    scheduler.add_listener(on_event, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    scheduler.start(paused=True)
    common = dict(trigger="date", run_date=PAST, misfire_grace_time=None)
    scheduler.add_job(thread_name_kind, id="debug", executor="debug", **common)
    scheduler.add_job(operator.mul, args=(6, 7), id="threads", **common)
    scheduler.add_job("operator:add", args=(40, 2), id="threads-text", **common)
    scheduler.add_job(math.factorial, args=(12,), id="processes", executor="processes", **common)
    scheduler.add_job("math:comb", args=(10, 3), id="processes-text", executor="processes",
                      **common)
    scheduler.add_job(math.sqrt, args=(-1,), id="process-error", executor="processes", **common)
    scheduler.resume()
    print("all executed:", all_done.wait(60))
    scheduler.shutdown(wait=True)
    for job_id in sorted(results):
        print("   ", job_id, results[job_id])

    return common


if __name__ == "__main__":
    asyncio.run(asyncio_part(threads_and_processes()))
