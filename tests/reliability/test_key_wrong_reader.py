"""A reader with the wrong key cannot disable the owner's jobs (issue 11, point 1).

Before the fix, ``nbsched list`` run without the NBSCHED_SECRET_KEY the scheduler uses (or by
another user, with their own key file) quarantined every record of the shared store itself;
the owner's scheduler then ran 0 jobs and logged nothing. Now read-only commands never write
(list and history open the store read-only: no table is created, nothing is quarantined),
and a key that verifies none of a store's records is one clear configuration error naming
the key and the store — from the CLI (status 2) and from a scheduler's store alike.

Real processes: the CLI runs as ``python -m nbsched.cli`` with its own environment; the
owner's scheduler runs in the test process and must run every job afterwards.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
from waiting import await_until

from nbsched.events import EVENT_JOB_EXECUTED
from nbsched.jobstores import store_for_url
from nbsched.schedulers.background import BackgroundScheduler
from nbsched.signing import KeyMismatchError

UTC = timezone.utc
JOBS = ("alpha", "beta", "gamma")



def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "COLUMNS": "250", **env}
    for name in [name for name, value in env.items() if value is None]:
        full.pop(name, None)
    return subprocess.run([sys.executable, "-m", "nbsched.cli", *args], capture_output=True,
                          text=True, timeout=120, env=full)


@pytest.fixture(params=["sqlite", "postgresql", "redis"])
def store_url(request, tmp_path: Path) -> Iterator[str]:
    """A store the CLI opens with its default table / keys, isolated from other tests."""
    kind = request.param
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'shared.sqlite'}"
        return
    if kind == "redis":
        base = request.getfixturevalue("redis_url").rsplit("/", 1)[0]
        url = f"{base}/11"  # nbsched's default key names, in a database of their own
        import redis

        client = redis.Redis.from_url(url)
        client.delete(*[k for k in client.keys("nbsched.jobs*")] or ["nbsched.jobs"])
        yield url
        client.delete(*[k for k in client.keys("nbsched.jobs*")] or ["nbsched.jobs"])
        client.close()
        return
    server = request.getfixturevalue("postgres_url")
    schema = f"reader_{uuid.uuid4().hex[:10]}"
    engine = sqlalchemy.create_engine(server)
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{server}?options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(sqlalchemy.text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()


def _snapshot(url: str) -> Any:
    """Everything the store holds, raw: any write by the reader shows up as a difference."""
    if url.startswith("redis://"):
        import redis

        client = redis.Redis.from_url(url)
        try:
            return {key: client.dump(key) for key in sorted(client.keys("nbsched.jobs*"))}
        finally:
            client.close()
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sqlalchemy.text(
                "SELECT id, next_run_time, job_state, quarantine FROM nbsched_jobs ORDER BY id"
            )).all()
    finally:
        engine.dispose()


def _owner_adds_jobs(url: str) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(jobstores={"default": store_for_url(url)}, timezone="UTC")
    scheduler.start(paused=True)
    now = datetime.now(UTC)
    for job_id in JOBS:
        scheduler.add_job("os:getpid", "interval", hours=1, id=job_id, next_run_time=now,
                          misfire_grace_time=None)
    return scheduler


@pytest.mark.parametrize("reader", ["own key file", "wrong secret"])
def test_wrong_key_listing_changes_nothing_and_the_owner_runs_every_job(
    store_url: str, reader: str, tmp_path: Path
) -> None:
    owner = _owner_adds_jobs(store_url)
    ran: list[str] = []
    lock = threading.Lock()

    def record(event: Any) -> None:
        with lock:
            ran.append(event.job_id)

    owner.add_listener(record, EVENT_JOB_EXECUTED)
    try:
        before = _snapshot(store_url)
        other_home = tmp_path / "other-user"
        env: dict[str, Any] = {"NBSCHED_DATA_DIR": str(other_home)}
        if reader == "own key file":  # another user: their own key file, no secret variable
            other_home.mkdir()
            (other_home / "secret.key").write_text("cd" * 32 + "\n")
            (other_home / "secret.key").chmod(0o600)
            env["NBSCHED_SECRET_KEY"] = None
        else:
            env["NBSCHED_SECRET_KEY"] = "not the owner's secret"
        listing = _cli("--store", store_url, "list", env=env)
        history = _cli("--store", store_url, "history", env=env)
        after = _snapshot(store_url)
        changed = sum(1 for old, new in zip(before, after) if old != new)
        print(f"FIGURE point 1 {store_url.split(':')[0]} {reader}: list exit "
              f"{listing.returncode}, records changed by the reader: {changed} of {len(before)}")
        assert after == before, "the read-only listing wrote to the store"
        assert listing.returncode == 2, listing
        message = listing.stdout + listing.stderr
        assert "verifies none of the 3 records" in " ".join(message.split())
        if reader == "own key file":
            assert str(other_home / "secret.key") in message.replace("\n", "")
        else:
            assert "NBSCHED_SECRET_KEY" in message
        assert "Traceback" not in message
        assert history.returncode == 0, history  # no runs yet; reading them needs no key

        owner.resume()
        await_until(lambda: sorted(ran) == sorted(JOBS), 15,
               lambda: f"the owner's scheduler to run every job (ran: {ran})")
        assert owner.get_quarantined_jobs() == []
    finally:
        owner.shutdown(wait=False)


def test_a_scheduler_with_the_wrong_key_fails_loudly_and_writes_nothing(
    store_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _owner_adds_jobs(store_url).shutdown()
    before = _snapshot(store_url)
    monkeypatch.setenv("NBSCHED_SECRET_KEY", "another user's secret")
    store = store_for_url(store_url)
    intruder = BackgroundScheduler(jobstores={"default": store}, timezone="UTC",
                                   jobstore_retry_interval=0.2)
    intruder.start()
    try:
        await_until(lambda: "verifies none of the 3 records" in caplog.text, 10,
               lambda: "the store to report the wrong key")
        with pytest.raises(KeyMismatchError, match="NBSCHED_SECRET_KEY"):
            store.get_all_jobs()
        assert store.get_quarantined_jobs() == []
    finally:
        intruder.shutdown(wait=False)
    assert _snapshot(store_url) == before


def test_read_only_commands_create_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "never-used.sqlite"
    for command in ("list", "history"):
        result = _cli("--store", f"sqlite:///{missing}", command, env={})
        assert result.returncode == 0, result
    assert not missing.exists(), "a read-only command created the database file"
    result = _cli("where", env={"NBSCHED_STORE_URL": f"sqlite:///{missing}"})
    assert result.returncode == 0 and not missing.exists()


def _quarantine_as_before_the_fix(url: str) -> None:
    """What a wrong-key ``nbsched list`` of an older nbsched left behind: every record
    quarantined for a signature failure, the bytes untouched."""
    reason = "SignatureError: job record signature does not match (an older nbsched list)"
    store = store_for_url(url)
    store.start(None, "default")
    try:
        if url.startswith("redis://"):
            for job_id in JOBS:
                payload = store.redis.hget(store.jobs_key, job_id)
                store._quarantine_script(keys=store._keys,
                                         args=[job_id, payload, reason, time.time()])
        else:
            with store.engine.begin() as conn:
                conn.execute(store.jobs_t.update().values(quarantine=reason,
                                                          quarantined_at=time.time()))
        assert sorted(q.id for q in store.get_quarantined_jobs()) == sorted(JOBS)
    finally:
        store.shutdown()


def test_records_quarantined_by_a_wrong_key_come_back_on_the_next_start(
    store_url: str,
) -> None:
    """Stores damaged before the fix recover without one-by-one retries: on start, records
    quarantined for a signature failure that verify under the current key are released."""
    _owner_adds_jobs(store_url).shutdown()
    _quarantine_as_before_the_fix(store_url)
    owner = BackgroundScheduler(jobstores={"default": store_for_url(store_url)},
                                timezone="UTC")
    ran: list[str] = []
    owner.add_listener(lambda event: ran.append(event.job_id), EVENT_JOB_EXECUTED)
    owner.start()
    try:
        await_until(lambda: sorted(ran) == sorted(JOBS), 15,
               lambda: f"every released job to run (ran: {ran})")
        assert owner.get_quarantined_jobs() == []
    finally:
        owner.shutdown(wait=False)
