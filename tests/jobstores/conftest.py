"""Fixtures for the shared job store suite: one ``store`` fixture, parametrised over backends.

Service URLs come from environment variables with loopback defaults. When a service cannot be
reached the test is skipped with the reason, except under ``CI=true`` where a missing service
is a failure: CI promises the services, so their absence must not pass silently.

Each test gets its own table / key prefix, removed afterwards, so tests never see each other's
jobs and can run against a shared database.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import create_engine

POSTGRES_URL = os.environ.get(
    "NBSCHED_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
MYSQL_URL = os.environ.get("NBSCHED_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test")
REDIS_URL = os.environ.get("NBSCHED_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

BACKENDS = ["memory", "sqlite", "postgresql", "mariadb", "redis"]
PERSISTENT = {"sqlite", "postgresql", "mariadb", "redis"}

UTC = timezone.utc
BASE_TIME = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


# --- jobs -------------------------------------------------------------------------------------


def real_job_class() -> type | None:
    try:
        from nbsched.job import Job
    except ImportError:
        return None
    return Job


class StandInJob:
    """Minimal Job with the same state protocol, used only while ``nbsched.job`` is absent."""

    def __init__(self, id: str, next_run_time: datetime | None, name: str | None = None):
        self.id = id
        self.name = name or id
        self.next_run_time = next_run_time
        self.func = "time:time"
        self.args: tuple = ()
        self.kwargs: dict = {}
        self._scheduler = None
        self._jobstore_alias = None

    def __getstate__(self) -> dict[str, Any]:
        return {
            "version": 1,
            "id": self.id,
            "func": self.func,
            "trigger": None,
            "executor": "default",
            "args": self.args,
            "kwargs": self.kwargs,
            "name": self.name,
            "misfire_grace_time": 1,
            "coalesce": True,
            "max_instances": 1,
            "next_run_time": self.next_run_time,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.id = state["id"]
        self.name = state["name"]
        self.func = state["func"]
        self.args = state["args"]
        self.kwargs = state["kwargs"]
        self.next_run_time = state["next_run_time"]


_TRIGGER: list[Any] = []


def _shared_trigger() -> Any:
    """One trigger for every job: triggers are immutable, and the stores treat them as opaque."""
    if not _TRIGGER:
        from nbsched.triggers.interval import IntervalTrigger

        _TRIGGER.append(IntervalTrigger(minutes=5, timezone=UTC))
    return _TRIGGER[0]


def _make_real_job(job_class: type, job_id: str, next_run_time: datetime | None, name: str | None):
    import time

    return job_class(
        None,
        id=job_id,
        func=time.time,  # importable by reference from anywhere, takes no arguments
        trigger=_shared_trigger(),
        executor="default",
        args=(),
        kwargs={},
        name=name or job_id,
        misfire_grace_time=1,
        coalesce=True,
        max_instances=1,
        next_run_time=next_run_time,
    )


@pytest.fixture
def make_job() -> Callable[..., Any]:
    """``make_job(id, next_run_time)``: a real Job when nbsched.job exists, else a stand-in."""
    job_class = real_job_class()

    def make(job_id: str, next_run_time: datetime | None = BASE_TIME, name: str | None = None):
        if job_class is None:
            return StandInJob(job_id, next_run_time, name)
        return _make_real_job(job_class, job_id, next_run_time, name)

    return make


# --- service reachability ---------------------------------------------------------------------


def _host_port(url: str, default_port: int) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or default_port


def _unavailable(what: str, url: str, error: BaseException | str) -> None:
    message = f"{what} not reachable at {url}: {error}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (CI=true requires every store service)", pytrace=False)
    pytest.skip(message)


def _check_port(what: str, url: str, default_port: int) -> None:
    host, port = _host_port(url, default_port)
    try:
        with socket.create_connection((host, port), timeout=1.0):
            pass
    except OSError as exc:
        _unavailable(what, url, exc)


# --- stores -----------------------------------------------------------------------------------


def _use_stand_in_restore(store: Any) -> None:
    """Until nbsched.job lands, persistent stores rebuild stand-in jobs."""
    if real_job_class() is not None:
        return

    def restore(state: dict[str, Any]) -> StandInJob:
        job = StandInJob.__new__(StandInJob)
        job.__setstate__(state)
        job._scheduler = store._scheduler
        job._jobstore_alias = store._alias
        return job

    store._restore_job = restore


_ENGINES: dict[str, Any] = {}


@pytest.fixture(scope="session", autouse=True)
def _dispose_engines() -> Iterator[None]:
    yield
    for engine in _ENGINES.values():
        engine.dispose()


def _sqlalchemy_store(url: str, what: str, default_port: int | None) -> Iterator[Any]:
    if default_port is not None:
        _check_port(what, url, default_port)
    from nbsched.jobstores.sqlalchemy import SQLAlchemyJobStore

    table = f"nbsched_t_{uuid.uuid4().hex[:10]}"
    try:
        if default_port is None:  # an SQLite file per test: the store makes its own engine
            store = SQLAlchemyJobStore(url=url, tablename=table)
        else:  # database servers: one engine (and connection pool) for the whole session
            if url not in _ENGINES:
                _ENGINES[url] = create_engine(url)
            store = SQLAlchemyJobStore(engine=_ENGINES[url], tablename=table)
        store.start(None, "default")
    except Exception as exc:  # the port answered but the database refused us
        if default_port is None:
            raise
        _unavailable(what, url, exc)
    _use_stand_in_restore(store)
    try:
        yield store
    finally:
        store._drop_tables()
        store.shutdown()


def _redis_store() -> Iterator[Any]:
    _check_port("Redis", REDIS_URL, 6379)
    from nbsched.jobstores.redis import RedisJobStore

    prefix = f"nbsched.test.{uuid.uuid4().hex[:10]}"
    try:
        store = RedisJobStore(
            url=REDIS_URL, jobs_key=f"{prefix}.jobs", run_times_key=f"{prefix}.run_times"
        )
        store.start(None, "default")
    except Exception as exc:
        _unavailable("Redis", REDIS_URL, exc)
    _use_stand_in_restore(store)
    try:
        yield store
    finally:
        store.remove_all_jobs()
        store._delete_keys()
        store.shutdown()


@pytest.fixture(autouse=True)
def _private_signing_key(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """Never touch the user's real key file or store."""
    monkeypatch.setenv("NBSCHED_DATA_DIR", str(tmp_path / "nbsched-data"))
    monkeypatch.setenv("NBSCHED_SECRET_KEY", "job store test suite")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def store(backend: str, tmp_path) -> Iterator[Any]:
    if backend == "memory":
        from nbsched.jobstores.memory import MemoryJobStore

        memory = MemoryJobStore()
        memory.start(None, "default")
        yield memory
        memory.shutdown()
    elif backend == "sqlite":
        yield from _sqlalchemy_store(f"sqlite:///{tmp_path / 'jobs.sqlite'}", "SQLite", None)
    elif backend == "postgresql":
        yield from _sqlalchemy_store(POSTGRES_URL, "PostgreSQL", 5432)
    elif backend == "mariadb":
        yield from _sqlalchemy_store(MYSQL_URL, "MariaDB", 3306)
    elif backend == "redis":
        yield from _redis_store()
    else:  # pragma: no cover
        raise AssertionError(backend)


@pytest.fixture
def corrupt(backend: str, store: Any) -> Callable[[str, bytes], None]:
    """``corrupt(job_id, payload)``: overwrite a stored record's bytes behind the store's back."""
    if backend not in PERSISTENT:
        raise AssertionError("only persistent stores have records to corrupt")

    def overwrite(job_id: str, payload: bytes) -> None:
        if backend == "redis":
            assert store._redis.hexists(store.jobs_key, job_id)
            store._redis.hset(store.jobs_key, job_id, payload)
            return
        table = store.jobs_t
        with store.engine.begin() as conn:
            result = conn.execute(
                table.update().where(table.c.id == job_id).values(job_state=payload)
            )
        assert result.rowcount == 1

    return overwrite


def at(seconds: float) -> datetime:
    """A run time ``seconds`` after the suite's base time."""
    return BASE_TIME + timedelta(seconds=seconds)
