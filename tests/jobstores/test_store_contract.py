"""One behavioural suite for every job store backend (see conftest for the ``store`` fixture).

Jobs coming back from a persistent store are new objects, so the assertions compare ids and
run times, never identity.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from nbsched.jobstores.base import (
    BaseJobStore,
    ConflictingIdError,
    JobLookupError,
)

UTC = timezone.utc
BASE = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return BASE + timedelta(seconds=seconds)


def ids(jobs) -> list[str]:
    return [job.id for job in jobs]


# --- add / lookup / update / remove ------------------------------------------------------------


def test_add_then_lookup_returns_the_job(store, backend, make_job):
    store.add_job(make_job("a", at(10), name="first job"))
    found = store.lookup_job("a")
    assert found is not None
    assert found.id == "a"
    assert found.name == "first job"
    assert found.next_run_time == at(10)
    if backend != "memory":  # live jobs get their alias from the scheduler, as in APScheduler
        assert found._jobstore_alias == "default"


def test_lookup_of_unknown_id_is_none(store):
    assert store.lookup_job("nope") is None


def test_adding_a_duplicate_id_raises_conflict_and_keeps_the_original(store, make_job):
    store.add_job(make_job("a", at(10)))
    with pytest.raises(ConflictingIdError, match=r"Job identifier \(a\) conflicts"):
        store.add_job(make_job("a", at(5)))
    assert store.lookup_job("a").next_run_time == at(10)
    assert ids(store.get_all_jobs()) == ["a"]


def test_update_changes_the_stored_job(store, make_job):
    store.add_job(make_job("a", at(10)))
    store.add_job(make_job("b", at(20)))
    job = store.lookup_job("a")
    job.next_run_time = at(30)
    job.name = "renamed"
    store.update_job(job)
    found = store.lookup_job("a")
    assert found.next_run_time == at(30)
    assert found.name == "renamed"
    assert ids(store.get_all_jobs()) == ["b", "a"]
    assert store.get_next_run_time() == at(20)


def test_update_of_unknown_job_raises_lookup_error(store, make_job):
    with pytest.raises(JobLookupError, match="No job by the id of ghost was found"):
        store.update_job(make_job("ghost", at(1)))
    assert store.get_all_jobs() == []


def test_remove_job(store, make_job):
    store.add_job(make_job("a", at(10)))
    store.add_job(make_job("b", at(5)))
    store.remove_job("b")
    assert store.lookup_job("b") is None
    assert ids(store.get_all_jobs()) == ["a"]
    assert store.get_next_run_time() == at(10)


def test_remove_of_unknown_job_raises_lookup_error(store):
    with pytest.raises(JobLookupError) as info:
        store.remove_job("ghost")
    assert isinstance(info.value, KeyError)


def test_ids_are_exact_strings(store, make_job):
    # case, trailing spaces and non-ASCII all make different ids (MySQL collations would not)
    for job_id in ["Report", "report", "report ", "rapport-é", "報告"]:
        store.add_job(make_job(job_id, at(10)))
    assert sorted(ids(store.get_all_jobs())) == sorted(
        ["Report", "report", "report ", "rapport-é", "報告"]
    )
    assert store.lookup_job("report ").id == "report "
    store.remove_job("report")
    assert store.lookup_job("Report") is not None
    assert store.lookup_job("報告").id == "報告"


def test_removed_id_can_be_reused(store, make_job):
    store.add_job(make_job("a", at(10)))
    store.remove_job("a")
    store.add_job(make_job("a", at(3)))
    assert store.lookup_job("a").next_run_time == at(3)


def test_remove_all_jobs(store, make_job):
    for n in range(5):
        store.add_job(make_job(f"j{n}", at(n) if n % 2 else None))
    store.remove_all_jobs()
    assert store.get_all_jobs() == []
    assert store.get_next_run_time() is None
    assert store.get_due_jobs(at(100)) == []
    store.add_job(make_job("j0", at(1)))  # the ids are free again
    assert ids(store.get_all_jobs()) == ["j0"]


# --- due jobs and ordering ---------------------------------------------------------------------


def test_get_due_jobs_returns_due_ones_earliest_first(store, make_job):
    for job_id, offset in [("c", 30), ("a", 10), ("late", 100), ("b", 20)]:
        store.add_job(make_job(job_id, at(offset)))
    assert ids(store.get_due_jobs(at(30))) == ["a", "b", "c"]  # "at or before now"
    assert ids(store.get_due_jobs(at(29.999999))) == ["a", "b"]
    assert store.get_due_jobs(at(9)) == []


def test_ties_keep_insertion_order_even_after_updates(store, make_job):
    for job_id in ["z", "m", "a", "q"]:
        store.add_job(make_job(job_id, at(10)))
    assert ids(store.get_due_jobs(at(10))) == ["z", "m", "a", "q"]
    # moving a job away and back must not reorder it among its equals
    job = store.lookup_job("m")
    job.next_run_time = at(50)
    store.update_job(job)
    job.next_run_time = at(10)
    store.update_job(job)
    assert ids(store.get_due_jobs(at(10))) == ["z", "m", "a", "q"]
    assert ids(store.get_all_jobs()) == ["z", "m", "a", "q"]


def test_get_due_jobs_limit(store, make_job):
    for n in range(10):
        store.add_job(make_job(f"j{n}", at(10 - n)))
    assert ids(store.get_due_jobs(at(100), limit=3)) == ["j9", "j8", "j7"]
    assert ids(store.get_due_jobs(at(2), limit=5)) == ["j9", "j8"]
    assert store.get_due_jobs(at(100), limit=0) == []
    assert len(store.get_due_jobs(at(100), limit=None)) == 10


def test_paused_jobs_are_never_due_and_sort_last(store, make_job):
    store.add_job(make_job("paused1", None))
    store.add_job(make_job("later", at(20)))
    store.add_job(make_job("paused2", None))
    store.add_job(make_job("soon", at(10)))
    assert ids(store.get_due_jobs(at(10**9))) == ["soon", "later"]
    assert ids(store.get_all_jobs()) == ["soon", "later", "paused1", "paused2"]
    assert store.lookup_job("paused1").next_run_time is None


def test_pausing_and_resuming_through_update(store, make_job):
    store.add_job(make_job("a", at(10)))
    store.add_job(make_job("b", at(20)))
    job = store.lookup_job("a")
    job.next_run_time = None
    store.update_job(job)
    assert store.get_next_run_time() == at(20)
    assert ids(store.get_all_jobs()) == ["b", "a"]
    job.next_run_time = at(5)
    store.update_job(job)
    assert store.get_next_run_time() == at(5)
    assert ids(store.get_due_jobs(at(5))) == ["a"]


def test_get_next_run_time(store, make_job):
    assert store.get_next_run_time() is None
    store.add_job(make_job("paused", None))
    assert store.get_next_run_time() is None
    store.add_job(make_job("a", at(30)))
    store.add_job(make_job("b", at(20)))
    assert store.get_next_run_time() == at(20)
    store.remove_job("b")
    assert store.get_next_run_time() == at(30)


def test_run_times_in_other_zones_compare_as_instants(store, make_job):
    from zoneinfo import ZoneInfo

    tokyo = ZoneInfo("Asia/Tokyo")
    store.add_job(make_job("utc", at(60)))
    store.add_job(make_job("tokyo", at(0).astimezone(tokyo)))
    assert ids(store.get_due_jobs(at(0))) == ["tokyo"]
    assert store.get_next_run_time() == at(0)
    assert store.lookup_job("tokyo").next_run_time == at(0)


def test_microsecond_run_times_survive(store, make_job):
    when = at(0) + timedelta(microseconds=123457)
    store.add_job(make_job("a", when))
    assert store.lookup_job("a").next_run_time == when
    assert store.get_due_jobs(when - timedelta(microseconds=1)) == []
    assert ids(store.get_due_jobs(when)) == ["a"]


def test_many_jobs_stay_ordered(store, backend, make_job):
    # Servers pay a network round trip (and a durable commit) per call: fewer jobs there.
    count = 5_000 if backend in ("memory", "sqlite") else 2_000
    rng = random.Random(20260301)
    offsets = {f"job-{n:05d}": rng.randrange(0, 2_000) for n in range(count)}
    for job_id, offset in offsets.items():
        store.add_job(make_job(job_id, at(offset)))
    expected = sorted(offsets, key=lambda job_id: offsets[job_id])  # stable: insertion order
    assert ids(store.get_all_jobs()) == expected
    assert store.get_next_run_time() == at(min(offsets.values()))
    assert ids(store.get_due_jobs(at(1_000))) == [j for j in expected if offsets[j] <= 1_000]
    # reschedule a tenth of them and remove another tenth
    moved = expected[::10]
    for job_id in moved:
        job = store.lookup_job(job_id)
        offsets[job_id] = rng.randrange(0, 2_000)
        job.next_run_time = at(offsets[job_id])
        store.update_job(job)
    for job_id in expected[5::10]:
        store.remove_job(job_id)
        del offsets[job_id]
    expected = sorted(offsets, key=lambda job_id: (offsets[job_id], job_id))
    assert ids(store.get_all_jobs()) == expected
    assert ids(store.get_due_jobs(at(500), limit=50)) == expected[:50]


# --- bad arguments -----------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [-1, 1.5, "3"])
def test_bad_limit_is_a_value_error_naming_it(store, limit):
    with pytest.raises(ValueError, match="limit"):
        store.get_due_jobs(at(0), limit=limit)


# --- quarantine --------------------------------------------------------------------------------


def test_quarantine_defaults_when_nothing_is_broken(store, make_job):
    store.add_job(make_job("a", at(1)))
    assert store.get_quarantined_jobs() == []
    with pytest.raises(JobLookupError):
        store.retry_quarantined("a")
    with pytest.raises(JobLookupError):
        store.remove_quarantined("a")


# --- history hooks -----------------------------------------------------------------------------


def test_base_store_keeps_no_history():
    class Minimal(BaseJobStore):
        lookup_job = get_due_jobs = get_next_run_time = get_all_jobs = None
        add_job = update_job = remove_job = remove_all_jobs = None

    store = Minimal()
    assert store.record_run(object()) is None
    assert store.get_run_history() is None
    assert store.get_quarantined_jobs() == []
    assert repr(store) == "<Minimal>"


def test_memory_store_keeps_no_history():
    from nbsched.jobstores.memory import MemoryJobStore

    store = MemoryJobStore()
    store.record_run(object())
    assert store.get_run_history() is None
