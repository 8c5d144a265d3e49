"""Differential checks: the same API calls on nbsched and on APScheduler 3.11, side by side.

The rest of the suite asserts behaviour one library at a time; here the two run in one
process and their observable results (job text, listings, event sequences, error types and
messages) must be identical. nbsched only (APScheduler compared with itself proves nothing).
"""

from __future__ import annotations

import importlib
import io
from datetime import datetime, timezone

import pytest

pytest.importorskip("apscheduler")

UTC = timezone.utc
FAR = datetime(2030, 1, 1, tzinfo=UTC)
pytestmark = pytest.mark.nbsched_only

# (trigger alias, trigger arguments) whose next run time does not depend on the current time.
SPECS = [
    ("date", {"run_date": FAR}),
    ("date", {"run_date": "2030-02-03 04:05:06"}),
    ("interval", {"minutes": 90, "start_date": FAR}),
    ("interval", {"weeks": 1, "days": 2, "seconds": 3, "start_date": "2030-05-05"}),
    ("interval", {"hours": 1, "start_date": FAR, "end_date": "2030-01-02",
                  "timezone": "Asia/Tokyo"}),
    ("cron", {"minute": "*/15", "start_date": FAR}),
    ("cron", {"day_of_week": "mon-fri", "hour": "9-17", "start_date": FAR}),
    ("cron", {"month": "2", "day": "last", "start_date": FAR, "timezone": "Europe/Berlin"}),
    ("cron", {"day": "3rd fri", "hour": 12, "start_date": FAR}),
]


def noop(*args, **kwargs):
    return None


def module(prefix, name):
    return importlib.import_module(f"{prefix}.{name}")


def paused_scheduler(prefix, **options):
    cls = module(prefix, "schedulers.background").BackgroundScheduler
    sched = cls(timezone="UTC", **options)
    sched.start(paused=True)
    return sched


@pytest.fixture
def pair():
    """A paused nbsched scheduler and a paused APScheduler one."""
    schedulers = [paused_scheduler("nbsched"), paused_scheduler("apscheduler")]
    yield schedulers
    for sched in schedulers:
        if sched.running:
            sched.shutdown(wait=False)


def describe(job):
    return (
        job.id, job.name, str(job), repr(job), job.next_run_time, str(job.trigger),
        job.executor, job.misfire_grace_time, job.coalesce, job.max_instances, job.func_ref,
        tuple(job.args), job.kwargs,
    )


@pytest.mark.parametrize(("alias", "trigger_args"), SPECS, ids=[f"{a}-{i}" for i, (a, _) in
                                                               enumerate(SPECS)])
def test_added_jobs_look_the_same(pair, alias, trigger_args):
    ours, theirs = (
        sched.add_job("math:hypot", alias, args=[3, 4], id="j", **dict(trigger_args))
        for sched in pair
    )
    assert describe(ours) == describe(theirs)
    assert repr(ours.trigger) == repr(theirs.trigger)


def test_print_jobs_text_is_the_same(pair):
    outputs = []
    for sched in pair:
        sched.add_jobstore("memory", "second")
        for i, (alias, trigger_args) in enumerate(SPECS):
            sched.add_job(noop, alias, id=f"j{i}", name=f"job {i}",
                          jobstore="second" if i % 2 else "default", **dict(trigger_args))
        sched.pause_job("j3")
        out = io.StringIO()
        sched.print_jobs(out=out)
        outputs.append(out.getvalue())
    assert outputs[0] == outputs[1]


def test_pending_listing_is_the_same():
    outputs = []
    for prefix in ("nbsched", "apscheduler"):
        sched = module(prefix, "schedulers.background").BackgroundScheduler(timezone="UTC")
        sched.add_job(noop, "interval", hours=2, start_date=FAR, id="a")
        sched.add_job(noop, "date", run_date=FAR, id="b", next_run_time=None)
        out = io.StringIO()
        sched.print_jobs(out=out)
        outputs.append(out.getvalue() + "|".join(str(j) for j in sched.get_jobs()))
    assert outputs[0] == outputs[1]


def _event_script(prefix):
    sched = module(prefix, "schedulers.background").BackgroundScheduler(timezone="UTC")
    seen = []
    sched.add_listener(lambda e: seen.append(
        (e.code, getattr(e, "alias", None), getattr(e, "job_id", None),
         getattr(e, "jobstore", None))))
    sched.add_job(noop, "date", run_date=FAR, id="pending")
    sched.start(paused=True)
    sched.add_jobstore("memory", "s")
    sched.add_executor("debug", "d")
    sched.add_job(noop, "interval", hours=1, id="a", jobstore="s")
    sched.modify_job("a", name="b")
    sched.pause_job("a")
    sched.resume_job("a")
    sched.reschedule_job("a", trigger="cron", hour=1)
    sched.remove_job("pending")
    sched.remove_all_jobs("s")
    sched.remove_executor("d")
    sched.remove_jobstore("s")
    sched.resume()
    sched.pause()
    sched.shutdown()
    return seen


def test_event_sequences_are_the_same():
    assert _event_script("nbsched") == _event_script("apscheduler")


def _errors(prefix):
    """Type name and message of each error a list of misuses raises."""
    sched = module(prefix, "schedulers.background").BackgroundScheduler(timezone="UTC")
    attempts = [
        lambda: sched.shutdown(),
        lambda: sched.pause(),
        lambda: sched.export_jobs(io.StringIO()),
        lambda: sched.remove_job("missing"),
    ]
    results = [_outcome(attempt) for attempt in attempts]
    sched.start(paused=True)
    sched.add_job(noop, "date", run_date=FAR, id="dup")
    sched.add_executor("debug", "d")
    sched.add_jobstore("memory", "s")
    attempts = [
        lambda: sched.start(),
        lambda: sched.configure(timezone="UTC"),
        lambda: sched.add_job(noop, "date", run_date=FAR, id="dup"),
        lambda: sched.remove_job("missing"),
        lambda: sched.modify_job("missing", name="x"),
        lambda: sched.pause_job("missing"),
        lambda: sched.resume_job("missing"),
        lambda: sched.reschedule_job("missing", trigger="interval", hours=1),
        lambda: sched.add_executor("debug", "d"),
        lambda: sched.add_jobstore("memory", "s"),
        lambda: sched.remove_executor("nope"),
        lambda: sched.remove_jobstore("nope"),
        lambda: sched.add_job(noop, "date", run_date=FAR, jobstore="nope"),
        lambda: sched.add_job(noop, 42),
        lambda: sched.add_job(42),
        lambda: sched.modify_job("dup", id="other"),
        lambda: sched.modify_job("dup", colour="red"),
        lambda: sched.get_job("dup").modify(max_instances=0),
    ]
    results += [_outcome(attempt) for attempt in attempts]
    sched.shutdown(wait=False)
    return results


def _outcome(attempt):
    try:
        attempt()
    except Exception as exc:
        return type(exc).__name__, str(exc)
    return None


def test_errors_have_the_same_types(pair):
    ours, theirs = _errors("nbsched"), _errors("apscheduler")
    assert [o and o[0] for o in ours] == [t and t[0] for t in theirs]


def test_lookup_and_state_errors_have_the_same_messages():
    ours, theirs = _errors("nbsched"), _errors("apscheduler")
    # Errors APScheduler words precisely (the ones user code may match on).
    keep = {"JobLookupError", "ConflictingIdError", "SchedulerAlreadyRunningError",
            "SchedulerNotRunningError", "KeyError"}
    assert [o for o in ours if o and o[0] in keep] == [t for t in theirs if t and t[0] in keep]


def test_export_documents_have_the_same_shape(pair):
    import json

    documents = []
    for sched in pair:
        sched.add_job("math:hypot", "interval", minutes=5, args=[3, 4], id="i", start_date=FAR)
        buffer = io.StringIO()
        sched.export_jobs(buffer)
        documents.append(json.loads(buffer.getvalue()))
    ours, theirs = documents
    assert ours["version"] == theirs["version"] == 1
    assert sorted(ours) == sorted(theirs)
    assert sorted(ours["jobs"][0]) == sorted(theirs["jobs"][0])
    keys = ["id", "func", "args", "kwargs", "name", "misfire_grace_time", "coalesce",
            "max_instances", "executor"]
    assert [ours["jobs"][0][k] for k in keys] == [theirs["jobs"][0][k] for k in keys]
