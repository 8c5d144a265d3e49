"""What only persistent stores promise: records survive the store object, history is kept,
records that cannot be restored are quarantined for a reason the user can act on.

Runs against sqlite, postgresql, mariadb and redis (the ``backend`` fixture is narrowed here).
"""

from __future__ import annotations

import sys
import types
from datetime import datetime, timedelta, timezone

import pytest

UTC = timezone.utc
BASE = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql", "mariadb", "redis"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


def at(seconds: float) -> datetime:
    return BASE + timedelta(seconds=seconds)


def _second_view(store, backend):
    """Another store object on the same table / keys (as another process would have)."""
    if backend == "redis":
        from nbsched.jobstores.redis import RedisJobStore

        other = RedisJobStore(jobs_key=store.jobs_key, run_times_key=store.run_times_key)
        other._redis = store._redis
    else:
        from nbsched.jobstores.sqlalchemy import SQLAlchemyJobStore

        other = SQLAlchemyJobStore(engine=store.engine, tablename=store.jobs_t.name)
    other.start(None, "other")
    other._restore_job = store._restore_job  # stand-in jobs while nbsched.job is absent
    return other


def test_records_are_shared_through_the_database(store, backend, make_job):
    store.add_job(make_job("a", at(10), name="shared"))
    store.add_job(make_job("b", None))
    other = _second_view(store, backend)
    assert [job.id for job in other.get_all_jobs()] == ["a", "b"]
    assert other.lookup_job("a").name == "shared"
    assert other.get_next_run_time() == at(10)
    other.remove_job("a")
    assert store.lookup_job("a") is None


def test_restored_jobs_are_independent_copies(store, make_job):
    job = make_job("a", at(10))
    store.add_job(job)
    first, second = store.lookup_job("a"), store.lookup_job("a")
    assert first is not second and first is not job
    first.name = "changed locally"
    assert store.lookup_job("a").name == "a"


def test_a_real_job_round_trips_every_field(store, make_job):
    pytest.importorskip("nbsched.job")
    job = make_job("full", at(10), name="full job")
    store.add_job(job)
    restored = store.lookup_job("full")
    assert restored.__getstate__() == job.__getstate__()
    assert restored.func is job.func
    assert str(restored) == str(job)


def test_record_signed_with_another_key_is_quarantined_then_retried(
    store, make_job, monkeypatch
):
    store.add_job(make_job("a", at(10)))
    store.add_job(make_job("b", at(20)))
    monkeypatch.setenv("NBSCHED_SECRET_KEY", "somebody else's key")
    assert store.get_due_jobs(at(100)) == []
    quarantined = {q.id: q for q in store.get_quarantined_jobs()}
    assert sorted(quarantined) == ["a", "b"]
    assert "SignatureError" in quarantined["a"].reason
    assert quarantined["a"].quarantined_at is not None
    monkeypatch.setenv("NBSCHED_SECRET_KEY", "job store test suite")  # the right key again
    assert store.retry_quarantined("a").id == "a"
    assert store.retry_quarantined("b").next_run_time == at(20)
    assert [job.id for job in store.get_due_jobs(at(100))] == ["a", "b"]


def test_a_job_whose_module_vanished_is_quarantined(store, make_job, caplog):
    pytest.importorskip("nbsched.job")
    module = types.ModuleType("nbsched_vanishing_module")

    def task() -> None:
        """Target of a job whose module goes away."""

    task.__module__ = module.__name__
    task.__qualname__ = "task"
    module.task = task
    sys.modules[module.__name__] = module
    try:
        job = make_job("orphan", at(10))
        job._modify(func=task)
        store.add_job(job)
    finally:
        del sys.modules[module.__name__]
    store.add_job(make_job("fine", at(20)))
    assert [job.id for job in store.get_all_jobs()] == ["fine"]
    (entry,) = store.get_quarantined_jobs()
    assert entry.id == "orphan"
    assert "nbsched_vanishing_module" in entry.reason
    assert "orphan" in caplog.text
    with pytest.raises(Exception, match="nbsched_vanishing_module"):
        store.retry_quarantined("orphan")
    store.remove_quarantined("orphan")
    assert store.get_quarantined_jobs() == []


# --- run history ---------------------------------------------------------------------------------


def _record(job_id: str, seconds: float, outcome: str = "ok", **extra):
    from nbsched.history import RunRecord

    start = at(seconds) if outcome in ("ok", "error") else None
    return RunRecord(
        job_id=job_id,
        jobstore="default",
        scheduled_time=at(seconds),
        start_time=start,
        end_time=start + timedelta(milliseconds=5) if start else None,
        outcome=outcome,
        **extra,
    )


def test_run_history_is_kept_newest_first(store):
    store.record_run(_record("a", 1, retval_repr="3"))
    store.record_run(_record("b", 2, "missed"))
    store.record_run(
        _record("a", 3, "error", exception="ValueError: boom", traceback="Traceback...\n")
    )
    history = store.get_run_history()
    assert [(r.job_id, r.outcome) for r in history] == [
        ("a", "error"),
        ("b", "missed"),
        ("a", "ok"),
    ]
    assert history[0].exception == "ValueError: boom"
    assert history[0].traceback == "Traceback...\n"
    assert history[2].retval_repr == "3"
    assert history[2].scheduled_time == at(1)
    assert history[2].end_time == at(1) + timedelta(milliseconds=5)
    assert history[1].start_time is None
    assert [r.scheduled_time for r in store.get_run_history("a")] == [at(3), at(1)]
    assert len(store.get_run_history(limit=1)) == 1
    assert store.get_run_history("nobody") == []


def test_run_history_is_bounded(store):
    store.history_limit = 5
    for n in range(12):
        store.record_run(_record("a", n))
    history = store.get_run_history(limit=100)
    assert [r.scheduled_time for r in history][:5] == [at(n) for n in range(11, 6, -1)]
    assert len(history) <= 5
