"""Constructor options and schema handling of the SQLAlchemy and Redis stores."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, update

from nbsched.jobstores.redis import RedisJobStore
from nbsched.jobstores.sqlalchemy import SCHEMA_VERSION, SQLAlchemyJobStore


def test_sqlite_is_the_default_store_in_the_data_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("NBSCHED_STORE_URL", raising=False)
    monkeypatch.setenv("NBSCHED_DATA_DIR", str(tmp_path / "data"))
    store = SQLAlchemyJobStore()
    store.start(None, "default")
    try:
        assert store.engine.dialect.name == "sqlite"
        assert (tmp_path / "data" / "jobs.sqlite").exists()
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    finally:
        store.shutdown()


def test_store_url_env_var_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("NBSCHED_STORE_URL", f"sqlite:///{tmp_path / 'elsewhere.db'}")
    store = SQLAlchemyJobStore()
    store.start(None, "default")
    store.shutdown()
    assert (tmp_path / "elsewhere.db").exists()


def test_an_engine_can_be_given(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'given.db'}")
    store = SQLAlchemyJobStore(engine=engine, tablename="mine")
    store.start(None, "default")
    assert store.engine is engine
    assert "mine" in store.metadata.tables
    assert "given.db" in repr(store)
    store.shutdown()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"url": 42}, "url"),
        ({"url": "sqlite://", "tablename": ""}, "tablename"),
        ({"url": "sqlite://", "history_limit": -1}, "history_limit"),
        ({"engine": object()}, "engine"),
    ],
)
def test_bad_sqlalchemy_arguments(kwargs, match):
    with pytest.raises((TypeError, ValueError), match=match):
        SQLAlchemyJobStore(**kwargs)


def test_schema_version_is_recorded_and_a_newer_one_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    store = SQLAlchemyJobStore(url=url)
    store.start(None, "default")
    with store.engine.begin() as conn:
        assert conn.execute(store.schema_t.select()).all() == [("nbsched_jobs", SCHEMA_VERSION)]
        conn.execute(update(store.schema_t).values(version=SCHEMA_VERSION + 1))
    store.shutdown()
    newer = SQLAlchemyJobStore(url=url)
    with pytest.raises(RuntimeError, match="newer nbsched"):
        newer.start(None, "default")
    newer.shutdown()


def test_a_foreign_table_with_the_same_name_is_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    engine = create_engine(url)
    metadata = MetaData()
    Table("apscheduler_jobs", metadata, Column("id", Integer, primary_key=True))
    metadata.create_all(engine)
    store = SQLAlchemyJobStore(engine=engine, tablename="apscheduler_jobs")
    with pytest.raises(ValueError, match="not an nbsched job table"):
        store.start(None, "default")
    engine.dispose()


def test_restarting_on_an_existing_table_keeps_the_jobs(tmp_path, make_job):
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    first = SQLAlchemyJobStore(url=url)
    first.start(None, "default")
    first.add_job(make_job("kept"))
    first.shutdown()
    second = SQLAlchemyJobStore(url=url)
    second.start(None, "default")
    assert [job.id for job in second.get_all_jobs()] == ["kept"]
    assert len(second) == 1
    second.shutdown()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"jobs_key": ""}, "jobs_key"),
        ({"run_times_key": None}, "run_times_key"),
        ({"jobs_key": "same", "run_times_key": "same"}, "must differ"),
        ({"db": "first"}, "db"),
        ({"history_limit": -5}, "history_limit"),
    ],
)
def test_bad_redis_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RedisJobStore(**kwargs)


def test_redis_url_and_db_are_used():
    store = RedisJobStore(url="redis://127.0.0.1:6379/3")
    assert store.redis.connection_pool.connection_kwargs["db"] == 3
    store = RedisJobStore(db=2, host="127.0.0.1")
    assert store.redis.connection_pool.connection_kwargs["db"] == 2
    assert store.jobs_key == "nbsched.jobs" and store.run_times_key == "nbsched.run_times"


def test_sqlite_store_is_safe_to_share_between_threads(tmp_path, make_job):
    import threading
    from datetime import datetime, timedelta, timezone

    store = SQLAlchemyJobStore(url=f"sqlite:///{tmp_path / 'threads.db'}")
    store.start(None, "default")
    base = datetime(2026, 1, 1, tzinfo=timezone.utc)
    jobs = [make_job(f"t{n:03d}", base + timedelta(seconds=n)) for n in range(200)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def worker(part: int) -> None:
        try:
            barrier.wait()
            for job in jobs[part::4]:
                store.add_job(job)
                assert store.lookup_job(job.id) is not None
                store.get_due_jobs(base + timedelta(seconds=50), limit=10)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(part,)) for part in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        assert [job.id for job in store.get_all_jobs()] == sorted(job.id for job in jobs)
    finally:
        store.shutdown()
