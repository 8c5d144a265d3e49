"""What only persistent stores promise: records survive the store object, history is kept,
records that cannot be restored are quarantined for a reason the user can act on.

Runs against sqlite, postgresql, mariadb and redis (the ``backend`` fixture is narrowed here).
"""

from __future__ import annotations

import logging
import sys
import types
from datetime import datetime, timedelta, timezone

import pytest

from nbsched.jobstores.base import ConflictingIdError, JobLookupError, QuarantinedJob
from nbsched.signing import KeyMismatchError, SigningKeyError

UTC = timezone.utc
BASE = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql", "mariadb", "redis"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


def at(seconds: float) -> datetime:
    return BASE + timedelta(seconds=seconds)


def ids(jobs) -> list[str]:
    return [job.id for job in jobs]


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


def test_a_key_that_verifies_no_record_is_a_configuration_error(
    store, make_job, monkeypatch
):
    """Another user's key (or a lost one) must not quarantine every record (issue 11.1)."""
    store.add_job(make_job("a", at(10)))
    store.add_job(make_job("b", at(20)))
    monkeypatch.setenv("NBSCHED_SECRET_KEY", "somebody else's key")
    with pytest.raises(KeyMismatchError, match="verifies none of the 2 records"):
        store.get_due_jobs(at(100))
    with pytest.raises(KeyMismatchError, match="NBSCHED_SECRET_KEY"):
        store.get_all_jobs()
    assert store.get_quarantined_jobs() == []
    monkeypatch.setenv("NBSCHED_SECRET_KEY", "job store test suite")  # the right key again
    assert [job.id for job in store.get_due_jobs(at(100))] == ["a", "b"]


def test_record_signed_with_another_key_is_quarantined_then_retried(
    store, make_job, monkeypatch
):
    """Once the key verifies one record, a record it does not verify is that record's fault."""
    store.add_job(make_job("a", at(10)))
    monkeypatch.setenv("NBSCHED_SECRET_KEY", "somebody else's key")
    store.add_job(make_job("b", at(20)))
    monkeypatch.setenv("NBSCHED_SECRET_KEY", "job store test suite")
    assert [job.id for job in store.get_due_jobs(at(100))] == ["a"]
    quarantined = {q.id: q for q in store.get_quarantined_jobs()}
    assert sorted(quarantined) == ["b"]
    assert "SignatureError" in quarantined["b"].reason
    assert quarantined["b"].quarantined_at is not None
    monkeypatch.setenv("NBSCHED_SECRET_KEY", "somebody else's key")
    assert store.retry_quarantined("b").next_run_time == at(20)
    monkeypatch.setenv("NBSCHED_SECRET_KEY", "job store test suite")


def _unusable_key_file(monkeypatch, tmp_path) -> None:
    """Switch to a key file others can read: nbsched refuses it (a setup problem)."""
    data = tmp_path / "shared-data-dir"
    data.mkdir()
    key = data / "secret.key"
    key.write_text("ab" * 32 + "\n")
    key.chmod(0o644)
    monkeypatch.delenv("NBSCHED_SECRET_KEY")
    monkeypatch.setenv("NBSCHED_DATA_DIR", str(data))


def test_an_unusable_signing_key_propagates_and_quarantines_nothing(
    store, make_job, monkeypatch, tmp_path
):
    store.add_job(make_job("a", at(10)))
    store.add_job(make_job("b", None))
    _unusable_key_file(monkeypatch, tmp_path)
    with pytest.raises(SigningKeyError, match="chmod 600"):
        store.get_all_jobs()
    with pytest.raises(SigningKeyError):
        store.get_due_jobs(at(100), limit=1)
    with pytest.raises(SigningKeyError):
        store.lookup_job("b")
    assert store.get_quarantined_jobs() == []
    monkeypatch.setenv("NBSCHED_SECRET_KEY", "job store test suite")
    assert ids(store.get_all_jobs()) == ["a", "b"]


def test_retry_with_an_unusable_signing_key_keeps_the_quarantine_reason(
    store, make_job, monkeypatch, tmp_path
):
    store.add_job(make_job("a", at(10)))
    monkeypatch.setenv("NBSCHED_SECRET_KEY", "somebody else's key")
    store.add_job(make_job("b", at(10)))
    monkeypatch.setenv("NBSCHED_SECRET_KEY", "job store test suite")
    assert ids(store.get_all_jobs()) == ["a"]
    (before,) = store.get_quarantined_jobs()
    _unusable_key_file(monkeypatch, tmp_path)
    with pytest.raises(SigningKeyError):
        store.retry_quarantined("b")
    assert store.get_quarantined_jobs() == [before]


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


# --- quarantine of damaged records ---------------------------------------------------------------


def test_a_corrupt_record_is_quarantined_not_lost(store, make_job, corrupt, caplog):
    for job_id, offset in [("good1", 10), ("bad", 20), ("good2", 30)]:
        store.add_job(make_job(job_id, at(offset)))
    corrupt("bad", b"this is not a job record")
    with caplog.at_level(logging.ERROR, logger="nbsched.jobstores"):
        due = store.get_due_jobs(at(100))
    assert ids(due) == ["good1", "good2"]
    errors = [rec.getMessage() for rec in caplog.records if rec.levelno >= logging.ERROR]
    assert any("'bad'" in message for message in errors)

    quarantined = store.get_quarantined_jobs()
    assert [q.id for q in quarantined] == ["bad"]
    assert isinstance(quarantined[0], QuarantinedJob)
    assert quarantined[0].reason
    assert quarantined[0].next_run_time == pytest.approx(at(20).timestamp())
    # never executed, never listed, never deleted, id stays taken
    assert ids(store.get_all_jobs()) == ["good1", "good2"]
    assert store.lookup_job("bad") is None
    assert store.get_next_run_time() == at(10)
    with pytest.raises(ConflictingIdError):
        store.add_job(make_job("bad", at(5)))


def test_lookup_and_listing_also_quarantine(store, make_job, corrupt):
    store.add_job(make_job("a", at(10)))
    store.add_job(make_job("b", None))
    corrupt("a", b"garbage")
    corrupt("b", b"more garbage")
    assert store.lookup_job("a") is None
    assert store.get_all_jobs() == []
    assert sorted(q.id for q in store.get_quarantined_jobs()) == ["a", "b"]
    paused = next(q for q in store.get_quarantined_jobs() if q.id == "b")
    assert paused.next_run_time is None


def test_due_batch_is_refilled_past_quarantined_records(store, make_job, corrupt):
    for n in range(6):
        store.add_job(make_job(f"j{n}", at(n)))
    corrupt("j0", b"x")
    corrupt("j1", b"y")
    assert ids(store.get_due_jobs(at(100), limit=3)) == ["j2", "j3", "j4"]


def test_retry_quarantined_after_the_record_is_repaired(store, make_job, corrupt):
    store.add_job(make_job("a", at(10)))
    store.add_job(make_job("b", at(20)))
    good = store._encode_job(store.lookup_job("a"))
    corrupt("a", b"broken")
    assert store.lookup_job("a") is None
    # still broken: retry fails, record stays quarantined
    with pytest.raises(Exception):  # noqa: B017 - the decoding error, whatever it is
        store.retry_quarantined("a")
    assert [q.id for q in store.get_quarantined_jobs()] == ["a"]
    corrupt("a", good)
    job = store.retry_quarantined("a")
    assert job.id == "a"
    assert store.get_quarantined_jobs() == []
    assert ids(store.get_all_jobs()) == ["a", "b"]
    assert ids(store.get_due_jobs(at(10))) == ["a"]


def test_remove_quarantined_deletes_the_record(store, make_job, corrupt):
    store.add_job(make_job("a", at(10)))
    corrupt("a", b"broken")
    store.get_all_jobs()
    store.remove_quarantined("a")
    assert store.get_quarantined_jobs() == []
    with pytest.raises(JobLookupError):
        store.remove_quarantined("a")
    store.add_job(make_job("a", at(1)))  # id is free again
    assert ids(store.get_all_jobs()) == ["a"]


def test_remove_job_also_removes_a_quarantined_record(store, make_job, corrupt):
    store.add_job(make_job("a", at(10)))
    corrupt("a", b"broken")
    store.get_all_jobs()
    store.remove_job("a")
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
